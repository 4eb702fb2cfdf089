/* xorshift.h - the tests' reproducible pseudo-random numbers (Marsaglia's xorshift64). */
#ifndef R2H_XORSHIFT_H
#define R2H_XORSHIFT_H

#include <stdint.h>

/* Next value of the generator whose state (non-zero) is *s. */
static inline uint64_t xorshift64(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Uniform double in [0, 1) from the top 53 bits of the next value. */
static inline double xorshift64_unit(uint64_t *s)
{
    return (double)(xorshift64(s) >> 11) / 9007199254740992.0;
}

#endif
