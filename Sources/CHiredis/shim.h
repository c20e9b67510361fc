#ifndef PARLEY_CHIREDIS_SHIM_H
#define PARLEY_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#include <sys/time.h>

/* The context's error text (a char array Swift imports as a tuple). */
static inline const char *parley_redis_errstr(const redisContext *c) { return c->errstr; }
#endif
