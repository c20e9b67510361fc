#ifndef PARLEY_CCURL_SHIM_H
#define PARLEY_CCURL_SHIM_H
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
// wrapper per argument type, so every option is set with the type libcurl expects.
static inline CURLcode parley_curl_set_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode parley_curl_set_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode parley_curl_set_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode parley_curl_set_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode parley_curl_set_write_function(CURL *h, CURLoption o, curl_write_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode parley_curl_get_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode parley_curl_get_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }

// The multi handle's event loop: libcurl's socket interface on epoll. libcurl says which
// sockets it waits on (socket callback → epoll set) and when it next needs a call
// (timer callback → deadline); a wait then costs in proportion to the sockets that are
// ready, not to every transfer in flight, as curl_multi_poll would. An eventfd in the same
// set wakes the loop when another thread has work for it. Its callbacks must be C functions,
// hence the loop lives here; it runs on one thread only.
typedef struct {
    int epoll;
    int wake;
    long long deadline_ms;  // CLOCK_MONOTONIC milliseconds of libcurl's next timeout; -1: none
} parley_curl_loop;

static inline long long parley_curl_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parley_curl_socket_changed(CURL *easy, curl_socket_t s, int what, void *loop_, void *socketp) {
    (void)easy; (void)socketp;
    parley_curl_loop *loop = loop_;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(loop->epoll, EPOLL_CTL_DEL, s, NULL);  // fails harmlessly if already closed
        return 0;
    }
    struct epoll_event event = {0};
    event.data.fd = s;
    if (what & CURL_POLL_IN) event.events |= EPOLLIN;
    if (what & CURL_POLL_OUT) event.events |= EPOLLOUT;
    if (epoll_ctl(loop->epoll, EPOLL_CTL_MOD, s, &event) != 0 && errno == ENOENT)
        return epoll_ctl(loop->epoll, EPOLL_CTL_ADD, s, &event) == 0 ? 0 : -1;
    return 0;
}

static int parley_curl_timer_changed(CURLM *multi, long timeout_ms, void *loop_) {
    (void)multi;
    parley_curl_loop *loop = loop_;
    loop->deadline_ms = timeout_ms < 0 ? -1 : parley_curl_now_ms() + timeout_ms;
    return 0;
}

/// Makes the loop and hands its callbacks to `multi`; 0 on success, -1 (errno set) if the
/// epoll or eventfd descriptor could not be made.
static inline int parley_curl_loop_init(parley_curl_loop *loop, CURLM *multi) {
    loop->deadline_ms = -1;
    loop->epoll = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epoll < 0) return -1;
    loop->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wake < 0) { close(loop->epoll); return -1; }
    struct epoll_event event = {0};
    event.events = EPOLLIN;
    event.data.fd = loop->wake;
    epoll_ctl(loop->epoll, EPOLL_CTL_ADD, loop->wake, &event);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, parley_curl_socket_changed);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, loop);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, parley_curl_timer_changed);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, loop);
    return 0;
}

/// Wakes a loop waiting in parley_curl_loop_run_once; callable from any thread.
static inline void parley_curl_loop_wake(parley_curl_loop *loop) {
    uint64_t one = 1;
    ssize_t written = write(loop->wake, &one, sizeof one);
    (void)written;  // a full counter (EAGAIN) is already a pending wake-up
}

/// Waits up to `max_wait_ms` (less if libcurl's timer is due sooner) for socket activity or
/// a wake-up, and lets libcurl act on what happened.
static inline void parley_curl_loop_run_once(parley_curl_loop *loop, CURLM *multi, int max_wait_ms) {
    struct epoll_event events[256];
    int wait = max_wait_ms, running = 0;
    if (loop->deadline_ms >= 0) {
        long long left = loop->deadline_ms - parley_curl_now_ms();
        wait = left <= 0 ? 0 : (left < wait ? (int)left : wait);
    }
    int count = epoll_wait(loop->epoll, events, 256, wait);
    for (int i = 0; i < count; i++) {
        int fd = events[i].data.fd;
        if (fd == loop->wake) {
            uint64_t value;
            ssize_t got = read(loop->wake, &value, sizeof value);
            (void)got;
            continue;
        }
        int flags = 0;
        if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(multi, fd, flags, &running);
    }
    if (loop->deadline_ms >= 0 && parley_curl_now_ms() >= loop->deadline_ms) {
        loop->deadline_ms = -1;  // libcurl sets the next one from inside the call if it needs one
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

static inline void parley_curl_loop_close(parley_curl_loop *loop) {
    close(loop->wake);
    close(loop->epoll);
}
#endif
