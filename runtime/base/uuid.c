/* uuid.c - see uuid.h. */
#include "uuid.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

static void hex_uuid(const unsigned char *b, char out[40]);

void bt_uuid7(int64_t ms, char out[40]) {
  unsigned char b[16];
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
    uint64_t x = (uint64_t)ms ^ ((uint64_t)getpid() << 32) ^ (uint64_t)clock();
    for (int i = 0; i < 16; i++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      b[i] = (unsigned char)x;
    }
  }
  uint64_t t = (uint64_t)ms;
  for (int i = 0; i < 6; i++) b[i] = (unsigned char)(t >> (40 - 8 * i));
  b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
  b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
  hex_uuid(b, out);
}

static void hex_uuid(const unsigned char *b, char out[40]) {
  static const char hx[] = "0123456789abcdef";
  int o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = hx[b[i] >> 4];
    out[o++] = hx[b[i] & 15];
  }
  out[o] = '\0';
}

void bt_uuid(char out[40]) {
  /* Per thread so captures on different threads never contend; refilled 256 ids at a time. */
  static __thread unsigned char pool[4096];
  static __thread size_t used = sizeof pool;
  if (used + 16 > sizeof pool) {
    size_t got = 0;
    while (got < sizeof pool) {
      ssize_t n = getrandom(pool + got, sizeof pool - got, 0);
      if (n <= 0) break;
      got += (size_t)n;
    }
    if (got < sizeof pool) { /* no kernel randomness: libuuid finds another source */
      uuid_t u;
      uuid_generate_random(u);
      uuid_unparse_lower(u, out);
      return;
    }
    used = 0;
  }
  unsigned char b[16];
  memcpy(b, pool + used, 16);
  memset(pool + used, 0, 16);
  used += 16;
  b[6] = (unsigned char)(0x40 | (b[6] & 0x0f));
  b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
  hex_uuid(b, out);
}
