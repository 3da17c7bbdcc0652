/* perf_hash.h - the hashes behind performance checksums and ids. They end up in files
 * (source_checksum, alert ids, fingerprints in performance-index.json), so there is
 * exactly one definition of each: changing one changes every id on disk. */
#ifndef BT_PERF_HASH_H
#define BT_PERF_HASH_H

#include <stddef.h>
#include <stdint.h>

#define BT_PERF_FNV_BASIS 1469598103934665603ULL

/* 64-bit finalizer (MurmurHash3 fmix64). */
static inline uint64_t bt_perf_mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

/* FNV-1a over n bytes, continuing from h (BT_PERF_FNV_BASIS to start). */
static inline uint64_t bt_perf_fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
  return h;
}

#endif
