/* bus.h - the run's event bus: typed, traced events with lineage and timing.
 *
 * Every signal, order, fill (and optionally bar) of a run is published here. The bus
 * assigns the identity (event_id = per-run sequence number, 1-based and gap-free),
 * stamps the timing, and calls each subscriber whose type mask matches, synchronously,
 * on the run thread. Subscribers that do slow work (the store writer, analytics) copy
 * what they need into their own bounded queue. Publishing with no interested
 * subscriber costs one mask test; with subscribers, one read of bt_bus_clock_ns().
 *
 * Bars are most of a run's events (one per bar, against a few orders per hundred
 * bars), so they take a lean path: bt_bus_publish_bar builds no bt_event and calls only
 * the bar subscribers (bt_bus_subscribe_bars), with the bar itself. A BAR published
 * through bt_bus_publish reaches the same bar subscribers. A BAR's emitted_at is the
 * bus's latest clock reading: the clock is read for every other event and every
 * BT_BUS_BAR_CLOCK_EVERY bars, not for each bar (so a BAR's stamp may be up to 15 bars
 * old: a few microseconds in a fast run, more in a slow one).
 *
 * Timing (all from bt_bus_clock_ns, monotonic ns):
 *   created_at   set by the publisher when the event was created notably before it is
 *                published (use bt_bus_clock_ns, never another clock); 0 = now;
 *   emitted_at   when bt_bus_publish was called;
 *   received_at  when the subscriber was called (the first subscriber gets emitted_at,
 *                later ones a fresh stamp, since earlier handlers take time);
 *   processed_at left 0 by the bus: the consumer that finishes the event stamps it (the
 *                trace store's writer thread does, when the event is persisted). */
#ifndef BT_BUS_H
#define BT_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "broker.h"
#include "feed.h"

typedef enum {
  BT_EV_BAR = 0,
  BT_EV_SIGNAL,
  BT_EV_ORDER,
  BT_EV_FILL,
  BT_EV_PORTFOLIO,
  BT_EV_RISK_BREACH,
  BT_EV_LOG,
  BT_EV_USER,          /* bt.trace.emit with a user-defined type name */
  BT_EV__COUNT
} bt_event_type;

#define BT_EV_MASK(t) (1u << (t))
#define BT_EV_MASK_ALL ((1u << BT_EV__COUNT) - 1)

const char *bt_event_type_name(bt_event_type t);           /* "BAR", "FILL", ... */
int bt_event_type_parse(const char *name);                 /* -1 if unknown */

typedef struct bt_event {
  uint64_t event_id;        /* = sequence number within the run */
  bt_event_type type;
  const char *user_type;    /* BT_EV_USER: the user's type name */
  int64_t timestamp;        /* market time (epoch seconds) */
  uint64_t causation_id;    /* event that caused this one, 0 = none */
  const char *source;       /* emitting component: "feed", "strategy", "broker", ...; a
                             * string that outlives the run (subscribers keep the pointer) */
  uint32_t symbol;
  /* monotonic ns from bt_bus_clock_ns (see the timing notes above) */
  uint64_t created_at, emitted_at, received_at, processed_at;
  /* payload, by type */
  union {
    const bt_bar *bar;                                       /* BAR */
    const bt_order *order;                                   /* ORDER (also rejected) */
    struct { const bt_order *order; const bt_fill *fill; } fill; /* FILL */
  } p;
  /* SIGNAL/USER/PORTFOLIO/RISK_BREACH/LOG payload, one of (neither = no payload, "{}"):
   * data_json  a JSON object's text;
   * data_flat  the same object flat-encoded (see below): publishers that would have to
   *            format numbers use it so that only a subscriber that needs the text
   *            pays for it, on its own thread. */
  const char *data_json;
  const void *data_flat;
  size_t data_flat_len;
} bt_event;

/* Flat payloads: an object of scalar fields with string keys in at most BT_FLAT_MAX
 * bytes, copied by value (no pointers). Each field is
 *   u8 type (bt_flat_type), u8 key length, the key bytes, then the value:
 *   INT int64 / DBL double / DEC bt_dec raw (8 bytes, host order), TRUE/FALSE nothing,
 *   STR u8 length + bytes.
 * bt_flat_render_json writes the JSON text a log record would show for the same Lua
 * table (keys sorted bytewise, shortest round-trip doubles, secret-named keys' values
 * redacted, secrets in strings redacted); a DEC is a string of its exact decimal text
 * (bt_dec_format), the way money is shown elsewhere. */
#define BT_FLAT_MAX 128
/* A traced event's data as JSON, at most (bt.trace.signal/emit refuse more): events are
 * buffered until they are stored, and the store reads them back whole. */
#define BT_TRACE_PAYLOAD_MAX (64 * 1024)
/* An event type name (bt.trace.emit), at most; never with a NUL byte. */
#define BT_TRACE_TYPE_MAX 64
#define BT_FLAT_MAX_FIELDS (BT_FLAT_MAX / 2) /* a field takes at least 2 bytes */
typedef enum {
  BT_FLAT_INT = 1, BT_FLAT_DBL, BT_FLAT_TRUE, BT_FLAT_FALSE, BT_FLAT_STR, BT_FLAT_DEC
} bt_flat_type;
/* Append a field to the payload of *len bytes in buf; false (nothing written) when it
 * would not fit. For BT_FLAT_STR, v points at n bytes (n <= 255); for the 8-byte types
 * at the value; TRUE/FALSE take none. */
bool bt_flat_add(uint8_t buf[BT_FLAT_MAX], size_t *len, bt_flat_type type, const char *key,
                 size_t klen, const void *v, size_t n);
struct bt_json_buf;
size_t bt_flat_render_json(const void *p, size_t len, struct bt_json_buf *b);
/* One field of a flat payload, decoded in place (key and string point into it). */
typedef struct bt_flat_field {
  const char *key;
  size_t klen;
  bt_flat_type type;
  union {
    int64_t i;   /* INT */
    double d;    /* DBL */
    bt_dec dec;  /* DEC */
    struct { const char *s; size_t n; } str; /* STR */
  } v;
} bt_flat_field;
/* The fields of the payload of len bytes at p, in stored order, into f: their count, or
 * -1 when the encoding is malformed (none of it is then usable, as the renderer treats
 * it). Nothing is formatted: the renderer and the CSV export (which spreads fields over
 * columns without a JSON round trip) both walk payloads with it. */
int bt_flat_fields(const void *p, size_t len, bt_flat_field f[BT_FLAT_MAX_FIELDS]);
/* A field's value as plain text, the way a JSON reader reads bt_flat_render_json's value
 * back: "[REDACTED]" under a secret-named key, a string with its secrets redacted
 * (log.h's bt_log_redact_text), a DEC's exact decimal text, an INT's digits, a DBL as
 * bt_json_dbl writes it, true/false; nothing for a non-finite DBL (JSON null). Its key
 * reads back as bt_log_redact_text(key). */
void bt_flat_text(const bt_flat_field *f, struct bt_json_buf *b);
/* The order of keys in bt_flat_render_json's object (bytewise): < 0, 0 or > 0. */
int bt_flat_key_cmp(const bt_flat_field *a, const bt_flat_field *b);

typedef void (*bt_bus_handler)(void *ud, const bt_event *ev);
/* A BAR: its id, created_at and emitted_at (as in bt_event), and the bar (its time is
 * the event's timestamp, its symbol the event's symbol, its source "feed"). */
typedef void (*bt_bus_bar_handler)(void *ud, uint64_t id, uint64_t created_at,
                                   uint64_t emitted_at, const bt_bar *bar);

typedef struct bt_bus bt_bus;

bt_bus *bt_bus_new(void);
void bt_bus_free(bt_bus *bus);
/* Subscribe to the types in mask (BAR excluded: see bt_bus_subscribe_bars). Returns 0 or
 * BT_ENOMEM. At most 16 subscribers. */
int bt_bus_subscribe(bt_bus *bus, uint32_t mask, bt_bus_handler fn, void *ud);
/* Subscribe to BARs. Returns 0 or BT_ENOMEM. At most 4 bar subscribers. */
int bt_bus_subscribe_bars(bt_bus *bus, bt_bus_bar_handler fn, void *ud);
/* Does any subscriber want this type? Publishers may skip building the event. */
static inline bool bt_bus_wants(const bt_bus *bus, bt_event_type t);
/* Assign identity and timing, deliver. Returns the event id (always assigned, even
 * when nobody listens, so lineage is complete). */
uint64_t bt_bus_publish(bt_bus *bus, bt_event *ev);
/* Publish a BAR created now (the run loop's path). Returns its id. */
uint64_t bt_bus_publish_bar(bt_bus *bus, const bt_bar *bar);
uint64_t bt_bus_last_id(const bt_bus *bus);
/* The id the next publish will assign (lets a publisher store it before publishing). */
static inline uint64_t bt_bus_next_id(const bt_bus *bus);

/* The bus clock: CLOCK_MONOTONIC nanoseconds, read from the invariant TSC where the CPU
 * has one (~12 ns instead of ~40 ns for clock_gettime under a hypervisor), since every
 * traced event pays for one read. Same base as bt_now_ns(); safe from any thread. */
uint64_t bt_bus_clock_ns(void);

/* internal layout exposed for the inline mask test */
struct bt_bus_sub { uint32_t mask; bt_bus_handler fn; void *ud; };
struct bt_bus_bar_sub { bt_bus_bar_handler fn; void *ud; };
#define BT_BUS_BAR_CLOCK_EVERY 16
struct bt_bus {
  uint32_t mask;            /* union of subscriber masks, BAR when there are bar subscribers */
  int nsubs, nbar_subs;
  uint64_t clock;           /* the latest clock reading */
  unsigned bar_clock_left;  /* bars that may still take it */
  struct bt_bus_sub subs[16];
  struct bt_bus_bar_sub bar_subs[4];
  uint64_t next_id;
};
static inline bool bt_bus_wants(const bt_bus *bus, bt_event_type t) {
  return (bus->mask & BT_EV_MASK(t)) != 0;
}
static inline uint64_t bt_bus_next_id(const bt_bus *bus) { return bus->next_id; }

#endif
