// swift-tools-version:6.1
import PackageDescription

/// Settings every target shares: Swift 6 language mode (strict concurrency) plus the
/// upcoming features that keep imports and existentials explicit.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley", targets: ["parley"]),
        .library(name: "HTTPServer", targets: ["HTTPServer"]),
    ],
    // Exact versions: no lock file is kept, so these pins are what every build (the tests, the
    // container image) resolves.
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
    ],
    targets: [
        .target(
            name: "HTTPServer",
            dependencies: ["QueueExecutor", "JSONText", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "HTTPServerTesting",
            dependencies: ["HTTPServer", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ProcessTesting",
            dependencies: ["HTTPServerTesting"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ChatCore",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Metrics",
            swiftSettings: strictSettings
        ),
        .target(
            name: "QueueExecutor",
            swiftSettings: strictSettings
        ),
        .target(
            name: "JSONText",
            swiftSettings: strictSettings
        ),
        .target(
            name: "WebUI",
            dependencies: ["HTTPServer"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ChatCoreTesting",
            dependencies: ["ChatCore"],
            swiftSettings: strictSettings
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CArgon2",
            pkgConfig: "libargon2",
            providers: [.apt(["libargon2-dev"])]
        ),
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CPostgres",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CHiredis",
            // No pkgConfig: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM refuses with a
            // warning; the header is found as <hiredis/hiredis.h> on the default path.
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(
            name: "RedisClient",
            dependencies: ["CHiredis", "QueueExecutor", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Coordination",
            dependencies: ["ChatCore", "RedisClient", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Storage",
            dependencies: ["ChatCore", "CSQLite", "CPostgres", "QueueExecutor", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "HTTPClient",
            dependencies: ["CCurl"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LLMProviders",
            dependencies: ["ChatCore", "HTTPClient", "JSONText"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Security",
            dependencies: ["ChatCore", "COpenSSL", "CArgon2"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MockLLM",
            dependencies: ["HTTPServer", "JSONText"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ChatClient",
            dependencies: ["HTTPClient"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ChatAPI",
            dependencies: ["HTTPServer", "ChatCore", "Metrics", "JSONText", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "parley",
            dependencies: [
                "CMalloc",
                "HTTPServer",
                "JSONText",
                "ChatAPI",
                "ChatCore",
                "MockLLM",
                "LLMProviders",
                "HTTPClient",
                "Storage",
                "Security",
                "Coordination",
                "RedisClient",
                "Metrics",
                "ChatClient",
                "WebUI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "HTTPServerTests",
            dependencies: [
                "HTTPServer",
                "ProcessTesting",
                "HTTPServerTesting",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SecurityTests",
            dependencies: ["Security", "ChatCore"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StorageTesting",
            dependencies: ["Storage"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: ["Storage", "StorageTesting", "ChatCore", "Coordination"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LLMProvidersTests",
            dependencies: ["LLMProviders", "HTTPClient", "ChatCore", "MockLLM", "HTTPServer", "HTTPServerTesting"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ChatCoreTests",
            dependencies: ["ChatCore", "ChatCoreTesting", "CMalloc"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CoordinationTests",
            dependencies: ["ProcessTesting", "Coordination", "RedisClient", "ChatCore", "HTTPServerTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ChatAPITests",
            dependencies: ["ProcessTesting", "ChatAPI", "ChatCore", "ChatCoreTesting", "Storage", "StorageTesting", "Security", "HTTPServer", "HTTPServerTesting",
                           "LLMProviders", "HTTPClient", "MockLLM", "Coordination", "RedisClient", "Metrics", "JSONText",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WebUITests",
            dependencies: ["WebUI", "HTTPServer"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ParleyTests",
            dependencies: ["ProcessTesting", "HTTPServerTesting", "parley", "ChatClient"],
            exclude: ["Scripts"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
