// Many concurrent HTTP/1.1 streams from one thread on epoll, so that the load generator costs a
// small fraction of the servers it measures (it reports its own CPU time to show it).
//
// Each of --streams connections sends one request (--method, POST by default; path i from --paths,
// or --path for all; a path line may end in a tab and that stream's bearer token) and reads
// the response, chunked or with a Content-Length. Server-Sent Events in the body are split on
// blank lines; an event's tokens are the words (spaces) of its "delta" (parley, the peer) or
// "content" (an OpenAI-compatible upstream) string, so coalesced deltas count every token.
//
//   --loop-seconds S  closed loop: each connection sends its next request on the same keep-alive
//                     connection as soon as the previous response ended, for S seconds
//                     (turns per second and their latency);
//   --ramp N          at most N connections waiting for their response head at a time (the
//                     rest are opened as heads arrive), so a burst fits the listen backlog;
//   --hold-seconds S  idle streams: once every stream has its response head, print "ready" on
//                     stderr (with how many are open, if some failed), keep them open S
//                     seconds, then end.
//
// Prints one JSON object on stdout. Build: cc -O2 -o sse_load sse_load.c -lm
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum phase { HEAD, CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, BODY, DONE };

struct conn {
    int fd;
    const char *request;
    size_t request_len, written;
    double started, first, last;
    enum phase phase;
    char *head;       // response head so far
    size_t head_len;
    int status, chunked, responses;
    long remaining;   // bytes left in the chunk or the Content-Length body
    char *event;      // the body's current, unfinished event
    size_t event_len, event_cap;
    long tokens;
    int failed;
    char size_line[32];  // a chunk-size line split across reads
    size_t size_line_len;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *key = "\"delta\":\"";
static double *gaps, *ttfts, *latencies;
static size_t gap_count, gap_cap, ttft_count, ttft_cap, latency_count, latency_cap;

static void push(double **values, size_t *count, size_t *cap, double value) {
    if (*count == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        *values = realloc(*values, *cap * sizeof(double));
        if (!*values) { perror("realloc"); exit(1); }
    }
    (*values)[(*count)++] = value;
}

// Words in the JSON string after `key` in this event (a word ends in a space).
static long count_tokens(const char *event, size_t length) {
    const char *found = memmem(event, length, key, strlen(key));
    if (!found) return 0;
    long words = 0;
    for (const char *p = found + strlen(key); p < event + length; p++) {
        if (*p == '\\') { p++; continue; }
        if (*p == '"') break;
        if (*p == ' ') words++;
    }
    return words;
}

static void on_event(struct conn *c, const char *event, size_t length) {
    long n = count_tokens(event, length);
    if (n == 0) return;
    double t = now();
    if (c->first == 0) {
        c->first = t;
        push(&ttfts, &ttft_count, &ttft_cap, (t - c->started) * 1000);
    } else {
        push(&gaps, &gap_count, &gap_cap, (t - c->last) * 1000 / n);
    }
    c->last = t;
    c->tokens += n;
}

static void on_body(struct conn *c, const char *data, size_t length) {
    if (c->event_len + length > c->event_cap) {
        c->event_cap = (c->event_len + length) * 2;
        c->event = realloc(c->event, c->event_cap);
        if (!c->event) { perror("realloc"); exit(1); }
    }
    memcpy(c->event + c->event_len, data, length);
    c->event_len += length;
    size_t start = 0;
    for (;;) {
        char *end = memmem(c->event + start, c->event_len - start, "\n\n", 2);
        if (!end) break;
        on_event(c, c->event + start, end - (c->event + start));
        start = end + 2 - c->event;
    }
    memmove(c->event, c->event + start, c->event_len - start);
    c->event_len -= start;
}

static int parse_head(struct conn *c) {
    char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head_len = end + 4 - c->head;
    c->status = atoi(c->head + 9);
    c->chunked = memmem(c->head, head_len, "chunked", 7) != NULL;
    char *length = strcasestr(c->head, "\r\ncontent-length:");
    c->remaining = (length && length < end) ? atol(length + 17) : 0;
    c->phase = c->chunked ? CHUNK_SIZE : BODY;
    return (int)head_len;
}

// Consumes up to `remaining` of the available bytes (passing them on as body if `body`).
static size_t take(struct conn *c, const char *data, size_t available, int body) {
    size_t n = available < (size_t)c->remaining ? available : (size_t)c->remaining;
    if (body) on_body(c, data, n);
    c->remaining -= n;
    return n;
}

// Feeds received bytes through the response parser; returns 1 when a response has ended.
static int feed(struct conn *c, const char *data, size_t length) {
    size_t i = 0;
    while (i < length) {
        switch (c->phase) {
        case HEAD: {
            c->head = realloc(c->head, c->head_len + length - i + 1);
            memcpy(c->head + c->head_len, data + i, length - i);
            size_t before = c->head_len;
            c->head_len += length - i;
            c->head[c->head_len] = 0;
            int used = parse_head(c);
            if (!used) return 0;
            i += used - before;
            if (!c->chunked && c->remaining == 0) { c->phase = DONE; return 1; }
            break;
        }
        case CHUNK_SIZE: {
            char *eol = memchr(data + i, '\n', length - i);
            size_t take = (eol ? (size_t)(eol - (data + i)) + 1 : length - i);
            if (c->size_line_len + take < sizeof c->size_line) memcpy(c->size_line + c->size_line_len, data + i, take);
            c->size_line_len += take;
            i += take;
            if (!eol) return 0;
            c->size_line[c->size_line_len < sizeof c->size_line ? c->size_line_len : sizeof c->size_line - 1] = 0;
            c->remaining = strtol(c->size_line, NULL, 16);
            c->size_line_len = 0;
            c->phase = c->remaining ? CHUNK_DATA : CHUNK_CRLF;
            if (!c->remaining) { c->remaining = -1; }
            break;
        }
        case CHUNK_DATA:
            i += take(c, data + i, length - i, 1);
            if (c->remaining == 0) { c->phase = CHUNK_CRLF; c->remaining = 2; }
            break;
        case CHUNK_CRLF: {
            if (c->remaining == -1) {  // after the last chunk: CRLF (no trailers expected)
                c->remaining = 2;
                c->phase = CHUNK_CRLF;
                c->chunked = 2;
                break;
            }
            i += take(c, data + i, length - i, 0);
            if (c->remaining == 0) {
                if (c->chunked == 2) { c->phase = DONE; return 1; }
                c->phase = CHUNK_SIZE;
            }
            break;
        }
        case BODY:
            i += take(c, data + i, length - i, 1);
            if (c->remaining == 0) { c->phase = DONE; return 1; }
            break;
        case DONE:
            return 1;
        }
    }
    return 0;
}

static int open_connection(struct conn *c, struct sockaddr_in *address, int epoll) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) { perror("socket"); return -1; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->started = now();
    if (connect(c->fd, (struct sockaddr *)address, sizeof *address) < 0 && errno != EINPROGRESS) {
        perror("connect");
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    return epoll_ctl(epoll, EPOLL_CTL_ADD, c->fd, &ev);
}

static void restart(struct conn *c) {
    c->phase = HEAD;
    c->head_len = 0;
    c->event_len = 0;
    c->written = 0;
    c->first = 0;
    c->started = now();
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *values, size_t count, double q) {
    if (!count) return -1;
    qsort(values, count, sizeof(double), compare);
    size_t i = (size_t)(q * count);
    return values[i < count ? i : count - 1];
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *text = malloc(size + 1);
    if (fread(text, 1, size, f) != (size_t)size) { perror(path); exit(2); }
    text[size] = 0;
    fclose(f);
    return text;
}

int main(int argc, char **argv) {
    const char *method = "POST", *label = "run", *host = "127.0.0.1", *path = "/", *paths_file = NULL, *body = "", *auth = NULL;
    int port = 0, streams = 1, tokens = 0, accept_sse = 1;
    double loop_seconds = 0, hold_seconds = 0;
    int ramp = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *name = argv[i], *value = argv[i + 1];
        if (!strcmp(name, "--label")) label = value;
        else if (!strcmp(name, "--host")) host = value;
        else if (!strcmp(name, "--method")) method = value;
        else if (!strcmp(name, "--port")) port = atoi(value);
        else if (!strcmp(name, "--path")) path = value;
        else if (!strcmp(name, "--paths")) paths_file = value;
        else if (!strcmp(name, "--body")) body = value;
        else if (!strcmp(name, "--bearer")) auth = value;
        else if (!strcmp(name, "--streams")) streams = atoi(value);
        else if (!strcmp(name, "--tokens")) tokens = atoi(value);
        else if (!strcmp(name, "--key")) key = !strcmp(value, "content") ? "\"content\":\"" : "\"delta\":\"";
        else if (!strcmp(name, "--sse")) accept_sse = atoi(value);
        else if (!strcmp(name, "--loop-seconds")) loop_seconds = atof(value);
        else if (!strcmp(name, "--hold-seconds")) hold_seconds = atof(value);
        else if (!strcmp(name, "--ramp")) ramp = atoi(value);
        else { fprintf(stderr, "unknown option %s\n", name); return 2; }
    }
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);

    char **paths = calloc(streams, sizeof(char *));
    char *listing = paths_file ? read_file(paths_file) : NULL;
    for (int i = 0; i < streams; i++) {
        if (listing) {
            paths[i] = strsep(&listing, "\n");
            if (!paths[i] || !*paths[i]) { fprintf(stderr, "%s: fewer than %d paths\n", paths_file, streams); return 2; }
        } else {
            paths[i] = (char *)path;
        }
    }
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &address.sin_addr);
    int epoll = epoll_create1(0);
    struct conn *conns = calloc(streams, sizeof *conns);
    double started = now();
    for (int i = 0; i < streams; i++) {
        char *request, *tab = strchr(paths[i], '\t');
        const char *bearer = auth;
        if (tab) { *tab = 0; bearer = tab + 1; }
        int n = asprintf(&request,
                         "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%s%s%s%sContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         method, paths[i], host, port, bearer ? "Authorization: Bearer " : "", bearer ? bearer : "",
                         bearer ? "\r\n" : "", accept_sse ? "Accept: text/event-stream\r\n" : "", strlen(body), body);
        conns[i].request = request;
        conns[i].request_len = n;
    }
    int opened = ramp > 0 && ramp < streams ? ramp : streams;
    for (int i = 0; i < opened; i++)
        if (open_connection(&conns[i], &address, epoll) < 0) return 1;
    int open = streams, ready = 0, heads = 0, settled = 0;  // settled: has a head or failed before one
    long responses = 0, failures = 0;
    double deadline = loop_seconds > 0 ? started + loop_seconds : 0, hold_until = 0;
    struct epoll_event events[512];
    static char buffer[1 << 16];
    while (open > 0) {
        int timeout = 100;
        int n = epoll_wait(epoll, events, 512, timeout);
        double t = now();
        if (hold_seconds > 0 && hold_until > 0 && t >= hold_until) break;
        for (int e = 0; e < n; e++) {
            struct conn *c = events[e].data.ptr;
            if ((events[e].events & EPOLLOUT) && c->written < c->request_len) {
                ssize_t w = write(c->fd, c->request + c->written, c->request_len - c->written);
                if (w > 0) c->written += w;
                if (c->written == c->request_len) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epoll, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            ssize_t r = read(c->fd, buffer, sizeof buffer);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                if (c->phase != DONE) { c->failed = 1; failures++; }
                if (c->phase == HEAD && opened < streams && open_connection(&conns[opened++], &address, epoll) < 0) return 1;
                if (c->phase == HEAD && ++settled == streams && hold_seconds > 0) {
                    fprintf(stderr, "ready %d\n", heads);
                    hold_until = now() + hold_seconds;
                }
                close(c->fd);
                c->fd = -1;
                open--;
                continue;
            }
            int had_head = c->phase != HEAD;
            int ended = feed(c, buffer, r);
            if (!had_head && c->phase != HEAD) {
                heads++;
                if (opened < streams && open_connection(&conns[opened++], &address, epoll) < 0) return 1;
            }
            if (!had_head && c->phase != HEAD && ++settled == streams && hold_seconds > 0) {
                fprintf(stderr, "ready %d\n", heads);
                hold_until = now() + hold_seconds;
            }
            if (!ended) continue;
            responses++;
            if (c->status != 200) { c->failed = 1; failures++; }
            if (loop_seconds > 0) push(&latencies, &latency_count, &latency_cap, (now() - c->started) * 1000);
            if (loop_seconds > 0 && now() < deadline && c->status == 200) {
                restart(c);
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                epoll_ctl(epoll, EPOLL_CTL_MOD, c->fd, &ev);
            } else {
                if (c->tokens >= tokens && c->status == 200) ready++;
                close(c->fd);
                c->fd = -1;
                open--;
            }
        }
    }
    double wall = now() - started;
    long received = 0;
    for (int i = 0; i < streams; i++) received += conns[i].tokens;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    printf("{\"mode\": \"%s\", \"streams\": %d, \"completed\": %d, \"responses\": %ld, \"failures\": %ld, "
           "\"heads\": %d, \"tokens_expected\": %ld, \"tokens_received\": %ld, \"wall_s\": %.3f, \"tokens_per_s\": %.1f, "
           "\"responses_per_s\": %.1f, \"ttft_ms_p50\": %.2f, \"ttft_ms_p99\": %.2f, \"gap_ms_p50\": %.2f, "
           "\"gap_ms_p99\": %.2f, \"latency_ms_p50\": %.2f, \"latency_ms_p99\": %.2f, \"client_cpu_s\": %.3f}\n",
           label, streams, ready, responses, failures, heads, (long)streams * tokens, received, wall, received / wall,
           responses / wall, percentile(ttfts, ttft_count, 0.5), percentile(ttfts, ttft_count, 0.99),
           percentile(gaps, gap_count, 0.5), percentile(gaps, gap_count, 0.99),
           percentile(latencies, latency_count, 0.5), percentile(latencies, latency_count, 0.99), cpu);
    return 0;
}
