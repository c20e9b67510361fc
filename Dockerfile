# parley: build with the official Swift image, run on slim Debian with only the runtime libraries.
# The package lists below must match the Makefile's BUILD_PACKAGES and RUNTIME_PACKAGES (a test compares them).

FROM swift:6.3-bookworm AS build
# BUILD_PACKAGES
RUN apt-get update && apt-get install -y --no-install-recommends \
        pkg-config libssl-dev libargon2-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libhiredis-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
RUN swift package resolve
# The migrations are compiled into the binary (Sources/Storage/Migrations/EmbeddedMigrations.swift).
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product parley --static-swift-stdlib \
    && cp "$(swift build -c release --show-bin-path)/parley" /parley

FROM debian:bookworm-slim
# RUNTIME_PACKAGES
RUN apt-get update && apt-get install -y --no-install-recommends \
        ca-certificates curl libssl3 libargon2-1 libsqlite3-0 libpq5 libcurl4 libhiredis0.14 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 parley \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/parley --create-home parley
COPY --from=build /parley /usr/local/bin/parley
USER 10001:10001
WORKDIR /var/lib/parley
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:///var/lib/parley/parley.db
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health/ready"]
ENTRYPOINT ["/usr/local/bin/parley"]
CMD ["serve"]
