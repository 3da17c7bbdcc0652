/* lua_ta.c - bt.ta: the bt_ta_* indicators as Lua userdata.
 *
 * One metatable ("bt.ta") for every indicator: the userdata starts with a header
 * naming its type (a table of functions), then the C struct, then its window buffer,
 * all in one Lua allocation (counted by the run's memory limit, freed by the GC, no
 * __gc needed). An update reads its arguments, updates the struct and pushes the
 * outputs: no table and no allocation per call. */
#include <lauxlib.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "lua_ctx.h"
#include "lua_ta.h"
#include "ta.h"

#define MT "bt.ta"
#define MAX_PERIOD (1 << 24)

typedef struct lta lta;
typedef enum { IN_NUMBER, IN_BAR, IN_PAIR } lta_input;

/* An indicator type: how it takes one input and what it outputs. The Lua method
 * (update) and the run loop (ctx:indicator) both go through step and outputs. */
typedef struct lta_type {
  const char *name;
  lta_input input;                          /* update(x), update(bar) or crossover's own */
  bool (*step)(void *obj, const bt_bar_values *in); /* IN_NUMBER reads in->close; warm? */
  void (*outputs)(const lta *h, double *out); /* NaN: not ready */
  void (*reset)(void *obj);
  int nout;
  const char *const *names; /* when nout > 1 */
  unsigned fields;          /* IN_BAR: the bar fields step reads (F_*) */
} lta_type;

enum { F_HL = 1, F_CLOSE = 2, F_VOLUME = 4, F_TIME = 8 };

struct lta {
  const lta_type *t;
  bool warm;
  bool bound; /* fed by the run loop (ctx:indicator): no updates by hand */
  char label[48];
  double obj[]; /* the C struct, then its window: 8-byte aligned, as Lua aligns userdata */
};

static double out_if(bool ok, double v) { return ok ? v : NAN; }

/* ---- arguments ---------------------------------------------------------------- */

static double num_arg(lua_State *L, lta *h, int idx) {
  int ok;
  double x = lua_tonumberx(L, idx, &ok);
  if (!ok) luaL_error(L, "bt.ta.%s: update: expected a number, got %s", h->t->name, luaL_typename(L, idx));
  if (!isfinite(x)) luaL_error(L, "bt.ta.%s: update: input must be finite, got %f", h->t->name, x);
  return x;
}

static double bar_num(lua_State *L, lta *h, const char *field) {
  if (lua_getfield(L, 2, field) == LUA_TNIL)
    luaL_error(L, "bt.ta.%s: update: bar.%s is missing", h->t->name, field);
  int ok;
  double x = lua_tonumberx(L, -1, &ok);
  if (!ok || !isfinite(x)) luaL_error(L, "bt.ta.%s: update: bar.%s must be a finite number", h->t->name, field);
  lua_pop(L, 1);
  return x;
}

/* The bar at index 2 as values; only the fields this indicator reads must be there. */
static void bar_arg(lua_State *L, lta *h, bt_bar_values *b) {
  if (lua_type(L, 2) != LUA_TTABLE)
    luaL_error(L, "bt.ta.%s: update: expected a bar table, got %s", h->t->name, luaL_typename(L, 2));
  unsigned f = h->t->fields;
  if (f & F_HL) b->high = bar_num(L, h, "high"), b->low = bar_num(L, h, "low");
  if (f & F_CLOSE) b->close = bar_num(L, h, "close");
  if (f & F_VOLUME) b->volume = bar_num(L, h, "volume");
  if (f & F_TIME) {
    int ok;
    lua_getfield(L, 2, "time");
    b->time = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "bt.ta.vwap: update: bar.time must be an integer (epoch seconds)");
    lua_pop(L, 1);
  }
}

static int period_arg(lua_State *L, const char *name, int idx, const char *what, int def) {
  if (lua_isnoneornil(L, idx) && def > 0) return def;
  int ok;
  lua_Integer n = lua_tointegerx(L, idx, &ok);
  if (!ok || n < 1 || n > MAX_PERIOD)
    luaL_error(L, "bt.ta.%s: %s must be an integer from 1 to %d, got %s", name, what, MAX_PERIOD,
               lua_isnoneornil(L, idx) ? "nothing" : luaL_tolstring(L, idx, NULL));
  return (int)n;
}

static lta *new_lta(lua_State *L, const lta_type *t, size_t objsize, int bufn, double **buf) {
  size_t off = (objsize + sizeof(double) - 1) / sizeof(double); /* in doubles */
  lta *h = lua_newuserdatauv(L, sizeof(lta) + (off + (size_t)bufn) * sizeof(double), 0);
  h->t = t;
  h->warm = false;
  h->bound = false;
  h->label[0] = 0;
  if (buf) *buf = h->obj + off;
  luaL_setmetatable(L, MT);
  return h;
}

/* ---- one-number indicators ------------------------------------------------------- */

#define SCALAR_TYPE(NAME, TYPE, UPDATE, FIELD, RESET)                                  \
  static bool NAME##_step(void *o, const bt_bar_values *in) { return UPDATE(o, in->close); } \
  static void NAME##_outputs(const lta *h, double *out) {                              \
    out[0] = out_if(h->warm, ((const TYPE *)h->obj)->FIELD);                           \
  }                                                                                    \
  static void NAME##_reset(void *o) { RESET((TYPE *)o); }                              \
  static const lta_type NAME##_type = {#NAME, IN_NUMBER, NAME##_step, NAME##_outputs,   \
                                       NAME##_reset, 1, NULL, 0};

SCALAR_TYPE(sma, bt_ta_sma, bt_ta_sma_update, value, bt_ta_sma_reset)
SCALAR_TYPE(ema, bt_ta_ema, bt_ta_ema_update, value, bt_ta_ema_reset)
SCALAR_TYPE(smma, bt_ta_ema, bt_ta_ema_update, value, bt_ta_ema_reset)
SCALAR_TYPE(wma, bt_ta_wma, bt_ta_wma_update, value, bt_ta_wma_reset)
SCALAR_TYPE(dema, bt_ta_dema, bt_ta_dema_update, value, bt_ta_dema_reset)
SCALAR_TYPE(tema, bt_ta_dema, bt_ta_dema_update, value, bt_ta_dema_reset)
SCALAR_TYPE(rsi, bt_ta_rsi, bt_ta_rsi_update, value, bt_ta_rsi_reset)
SCALAR_TYPE(stddev, bt_ta_stddev, bt_ta_stddev_update, value, bt_ta_stddev_reset)
SCALAR_TYPE(highest, bt_ta_minmax, bt_ta_minmax_update, value, bt_ta_minmax_reset)
SCALAR_TYPE(lowest, bt_ta_minmax, bt_ta_minmax_update, value, bt_ta_minmax_reset)
SCALAR_TYPE(momentum, bt_ta_change, bt_ta_change_update, momentum, bt_ta_change_reset)

static bool roc_step(void *o, const bt_bar_values *in) {
  bt_ta_change *c = o;
  return bt_ta_change_update(c, in->close) && c->roc_ok;
}
static void roc_outputs(const lta *h, double *out) {
  out[0] = out_if(h->warm, ((const bt_ta_change *)h->obj)->roc);
}
static void roc_reset(void *o) { bt_ta_change_reset(o); }
static const lta_type roc_type = {"roc", IN_NUMBER, roc_step, roc_outputs, roc_reset, 1, NULL, 0};

/* ---- several outputs ----------------------------------------------------------------- */

static const char *const macd_names[] = {"line", "signal", "hist"};
static bool macd_step(void *o, const bt_bar_values *in) { return bt_ta_macd_update(o, in->close); }
static void macd_outputs(const lta *h, double *out) {
  const bt_ta_macd *m = (const bt_ta_macd *)h->obj;
  out[0] = out_if(h->warm, m->line);
  out[1] = out_if(h->warm && m->signal_ready, m->signal);
  out[2] = out_if(h->warm && m->signal_ready, m->hist);
}
static void macd_reset(void *o) { bt_ta_macd_reset(o); }
static const lta_type macd_type = {"macd", IN_NUMBER, macd_step, macd_outputs, macd_reset, 3, macd_names, 0};

static const char *const band_names[] = {"mid", "upper", "lower"};
static bool bollinger_step(void *o, const bt_bar_values *in) { return bt_ta_bbands_update(o, in->close); }
static void bollinger_outputs(const lta *h, double *out) {
  const bt_ta_bbands *b = (const bt_ta_bbands *)h->obj;
  out[0] = out_if(h->warm, b->mid);
  out[1] = out_if(h->warm, b->upper);
  out[2] = out_if(h->warm, b->lower);
}
static void bollinger_reset(void *o) { bt_ta_bbands_reset(o); }
static const lta_type bollinger_type = {"bollinger", IN_NUMBER, bollinger_step, bollinger_outputs,
                                        bollinger_reset, 3, band_names, 0};

/* ---- bar indicators ---------------------------------------------------------------------- */

#define BAR_TYPE(NAME, TYPE, FIELDS, STEP_EXPR, FIELD, RESET)                          \
  static bool NAME##_step(void *o, const bt_bar_values *in) { return STEP_EXPR; }     \
  static void NAME##_outputs(const lta *h, double *out) {                              \
    out[0] = out_if(h->warm, ((const TYPE *)h->obj)->FIELD);                           \
  }                                                                                    \
  static void NAME##_reset(void *o) { RESET((TYPE *)o); }                              \
  static const lta_type NAME##_type = {#NAME, IN_BAR, NAME##_step, NAME##_outputs,      \
                                       NAME##_reset, 1, NULL, FIELDS};

BAR_TYPE(tr, bt_ta_tr, F_HL | F_CLOSE, bt_ta_tr_update(o, in->high, in->low, in->close), value, bt_ta_tr_reset)
BAR_TYPE(atr, bt_ta_atr, F_HL | F_CLOSE, bt_ta_atr_update(o, in->high, in->low, in->close), value, bt_ta_atr_reset)
BAR_TYPE(obv, bt_ta_obv, F_CLOSE | F_VOLUME, bt_ta_obv_update(o, in->close, in->volume), value, bt_ta_obv_reset)
BAR_TYPE(vwap, bt_ta_vwap, F_HL | F_CLOSE | F_VOLUME | F_TIME,
         bt_ta_vwap_update(o, in->time, in->high, in->low, in->close, in->volume), value,
         bt_ta_vwap_reset)

static const char *const stoch_names[] = {"k", "d"};
static bool stochastic_step(void *o, const bt_bar_values *in) {
  return bt_ta_stoch_update(o, in->high, in->low, in->close);
}
static void stochastic_outputs(const lta *h, double *out) {
  const bt_ta_stoch *s = (const bt_ta_stoch *)h->obj;
  out[0] = out_if(h->warm, s->k);
  out[1] = out_if(h->warm && s->d_ready, s->d);
}
static void stochastic_reset(void *o) { bt_ta_stoch_reset(o); }
static const lta_type stochastic_type = {"stochastic", IN_BAR, stochastic_step, stochastic_outputs,
                                         stochastic_reset, 2, stoch_names, F_HL | F_CLOSE};

static const char *const adx_names[] = {"adx", "plus_di", "minus_di"};
static bool adx_step(void *o, const bt_bar_values *in) {
  return bt_ta_adx_update(o, in->high, in->low, in->close);
}
static void adx_outputs(const lta *h, double *out) {
  const bt_ta_adx *a = (const bt_ta_adx *)h->obj;
  out[0] = out_if(h->warm, a->value);
  out[1] = out_if(a->di_ready, a->plus_di);
  out[2] = out_if(a->di_ready, a->minus_di);
}
static void adx_reset(void *o) { bt_ta_adx_reset(o); }
static const lta_type adx_type = {"adx", IN_BAR, adx_step, adx_outputs, adx_reset, 3, adx_names, F_HL | F_CLOSE};

static bool donchian_step(void *o, const bt_bar_values *in) {
  return bt_ta_donchian_update(o, in->high, in->low);
}
static void donchian_outputs(const lta *h, double *out) {
  const bt_ta_donchian *d = (const bt_ta_donchian *)h->obj;
  out[0] = out_if(h->warm, d->mid);
  out[1] = out_if(h->warm, d->upper);
  out[2] = out_if(h->warm, d->lower);
}
static void donchian_reset(void *o) { bt_ta_donchian_reset(o); }
static const lta_type donchian_type = {"donchian", IN_BAR, donchian_step, donchian_outputs,
                                       donchian_reset, 3, band_names, F_HL};

/* ---- crossover ------------------------------------------------------------------------ */

/* The first output of the indicator at idx, or false when it has none yet. */
static bool first_output(lua_State *L, int idx, double *v) {
  lta *src = luaL_testudata(L, idx, MT);
  if (!src) return false;
  double out[BT_BAR_INDICATOR_MAX_OUT];
  src->t->outputs(src, out);
  *v = out[0];
  return !isnan(out[0]);
}

/* Crossover takes two numbers, or reads its two source indicators: it has no step. */
static void crossover_update(lua_State *L, lta *h) {
  double a = 0, b = 0;
  bool ok;
  if (lua_isnone(L, 2)) {
    if (lua_getiuservalue(L, 1, 1) == LUA_TNONE)
      luaL_error(L, "bt.ta.crossover: update: give two numbers, or create it with two indicators");
    lua_getiuservalue(L, 1, 2);
    ok = first_output(L, -2, &a) && first_output(L, -1, &b);
    lua_pop(L, 2);
  } else {
    /* nil (an input still warming up) records nothing */
    ok = !lua_isnil(L, 2) && !lua_isnil(L, 3);
    if (ok) a = num_arg(L, h, 2), b = num_arg(L, h, 3);
  }
  bt_ta_cross *c = (bt_ta_cross *)h->obj;
  if (ok) bt_ta_cross_update(c, a, b);
  else c->value = 0;
  h->warm = true;
}
static void crossover_outputs(const lta *h, double *out) { out[0] = ((const bt_ta_cross *)h->obj)->value; }
static void crossover_reset(void *o) { bt_ta_cross_reset(o); }
static const lta_type crossover_type = {"crossover", IN_PAIR, NULL, crossover_outputs,
                                        crossover_reset, 1, NULL, 0};

/* ---- methods ------------------------------------------------------------------------------- */

/* The indicator at index 1. The methods hold the metatable as upvalue 1: comparing with
 * it is cheaper than luaL_checkudata's registry lookup by name, on every update. */
static lta *self(lua_State *L) {
  lta *h = lua_touserdata(L, 1);
  if (!h || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, lua_upvalueindex(1)))
    luaL_typeerror(L, 1, MT);
  lua_pop(L, 1);
  return h;
}

static int push_outputs(lua_State *L, const lta *h) {
  double out[BT_BAR_INDICATOR_MAX_OUT];
  h->t->outputs(h, out);
  if (h->t->input == IN_PAIR) {
    lua_pushinteger(L, (lua_Integer)out[0]);
    return 1;
  }
  for (int i = 0; i < h->t->nout; i++) {
    if (isnan(out[i])) lua_pushnil(L);
    else lua_pushnumber(L, out[i]);
  }
  return h->t->nout;
}

static int m_update(lua_State *L) {
  lta *h = self(L);
  if (h->bound)
    return luaL_error(L, "bt.ta.%s: update: this indicator is bound with ctx:indicator, so btrun "
                      "updates it before on_bar; read its value from the bar or with :value()",
                      h->t->name);
  bt_bar_values in;
  switch (h->t->input) {
  case IN_NUMBER:
    in.close = num_arg(L, h, 2);
    h->warm = h->t->step(h->obj, &in);
    break;
  case IN_BAR:
    bar_arg(L, h, &in);
    h->warm = h->t->step(h->obj, &in);
    break;
  case IN_PAIR:
    crossover_update(L, h);
    break;
  }
  return push_outputs(L, h);
}

static int m_value(lua_State *L) { return push_outputs(L, self(L)); }

static int m_reset(lua_State *L) {
  lta *h = self(L);
  h->t->reset(h->obj);
  h->warm = false;
  return 0;
}

static int m_tostring(lua_State *L) {
  lta *h = self(L);
  lua_pushfstring(L, "bt.ta.%s(%s)", h->t->name, h->label);
  return 1;
}

/* ---- bound to a run (ctx:indicator, lua_ctx.h) ---------------------------------------------- */

static int bar_describe(void *self, const char *const **names, const char **why) {
  const lta *h = self;
  if (h->t->input == IN_PAIR) {
    *why = "bt.ta.crossover cannot be bound: bind its two inputs and update it with their values";
    return -1;
  }
  *names = h->t->names;
  return h->t->nout;
}

static void bar_update(void *self, const bt_bar_values *bar, double *out) {
  lta *h = self;
  h->warm = h->t->step(h->obj, bar);
  h->t->outputs(h, out);
}

static void bar_set_bound(void *self, bool bound) { ((lta *)self)->bound = bound; }

static const bt_bar_indicator bar_vt = {bar_describe, bar_update, bar_set_bound};

/* ---- constructors ---------------------------------------------------------------------------- */

#define LABEL(h, ...) snprintf((h)->label, sizeof (h)->label, __VA_ARGS__)

/* How an indicator is built from its integer parameters p[] (periods, in argument
 * order): the size of its window buffer and the init call on the struct o. */
#define CTOR(NAME, BUFN, INIT)                                                         \
  static int NAME##_bufn(const int *p) { return (void)p, BUFN; }                       \
  static void NAME##_init(void *o, const int *p, double *buf) { (void)p, (void)buf; INIT; }

CTOR(sma, bt_ta_sma_bufn(p[0]), bt_ta_sma_init(o, p[0], buf))
CTOR(ema, 0, bt_ta_ema_init(o, p[0]))
CTOR(smma, 0, bt_ta_wilder_init(o, p[0]))
CTOR(wma, bt_ta_wma_bufn(p[0]), bt_ta_wma_init(o, p[0], buf))
CTOR(dema, 0, bt_ta_dema_init(o, p[0], 2))
CTOR(tema, 0, bt_ta_dema_init(o, p[0], 3))
CTOR(rsi, 0, bt_ta_rsi_init(o, p[0]))
CTOR(stddev, bt_ta_stddev_bufn(p[0]), bt_ta_stddev_init(o, p[0], buf))
CTOR(highest, bt_ta_minmax_bufn(p[0]), bt_ta_minmax_init(o, p[0], true, buf))
CTOR(lowest, bt_ta_minmax_bufn(p[0]), bt_ta_minmax_init(o, p[0], false, buf))
CTOR(change, bt_ta_change_bufn(p[0]), bt_ta_change_init(o, p[0], buf))
CTOR(macd, 0, bt_ta_macd_init(o, p[0], p[1], p[2]))
CTOR(tr, 0, bt_ta_tr_reset(o))
CTOR(atr, 0, bt_ta_atr_init(o, p[0]))
CTOR(stochastic, bt_ta_stoch_bufn(p[0], p[1], p[2]), bt_ta_stoch_init(o, p[0], p[1], p[2], buf))
CTOR(adx, 0, bt_ta_adx_init(o, p[0]))
CTOR(donchian, bt_ta_donchian_bufn(p[0]), bt_ta_donchian_init(o, p[0], buf))
CTOR(obv, 0, bt_ta_obv_reset(o))

enum { MAX_PARAMS = 3 };

/* One constructor bt.ta.NAME(p1, p2, p3): every parameter is a period (an integer from
 * 1 to MAX_PERIOD; a default of 0 makes it required). */
typedef struct lta_ctor {
  const lta_type *t;
  size_t objsize;
  const char *params[MAX_PARAMS]; /* names for messages, NULL after the last */
  int defaults[MAX_PARAMS];
  int (*bufn)(const int *p);
  void (*init)(void *o, const int *p, double *buf);
} lta_ctor;

#define P1(A, DA) {A}, {DA}
#define P3(A, DA, B, DB, C, DC) {A, B, C}, {DA, DB, DC}
static const lta_ctor ctors[] = {
    {&sma_type, sizeof(bt_ta_sma), P1("period", 0), sma_bufn, sma_init},
    {&ema_type, sizeof(bt_ta_ema), P1("period", 0), ema_bufn, ema_init},
    {&smma_type, sizeof(bt_ta_ema), P1("period", 0), smma_bufn, smma_init},
    {&wma_type, sizeof(bt_ta_wma), P1("period", 0), wma_bufn, wma_init},
    {&dema_type, sizeof(bt_ta_dema), P1("period", 0), dema_bufn, dema_init},
    {&tema_type, sizeof(bt_ta_dema), P1("period", 0), tema_bufn, tema_init},
    {&rsi_type, sizeof(bt_ta_rsi), P1("period", 14), rsi_bufn, rsi_init},
    {&stddev_type, sizeof(bt_ta_stddev), P1("period", 0), stddev_bufn, stddev_init},
    {&highest_type, sizeof(bt_ta_minmax), P1("period", 0), highest_bufn, highest_init},
    {&lowest_type, sizeof(bt_ta_minmax), P1("period", 0), lowest_bufn, lowest_init},
    {&momentum_type, sizeof(bt_ta_change), P1("period", 0), change_bufn, change_init},
    {&roc_type, sizeof(bt_ta_change), P1("period", 0), change_bufn, change_init},
    {&macd_type, sizeof(bt_ta_macd), P3("fast", 12, "slow", 26, "signal", 9), macd_bufn, macd_init},
    {&tr_type, sizeof(bt_ta_tr), {NULL}, {0}, tr_bufn, tr_init},
    {&atr_type, sizeof(bt_ta_atr), P1("period", 14), atr_bufn, atr_init},
    {&stochastic_type, sizeof(bt_ta_stoch), P3("period", 14, "k_smooth", 3, "d", 3), stochastic_bufn,
     stochastic_init},
    {&adx_type, sizeof(bt_ta_adx), P1("period", 14), adx_bufn, adx_init},
    {&donchian_type, sizeof(bt_ta_donchian), P1("period", 20), donchian_bufn, donchian_init},
    {&obv_type, sizeof(bt_ta_obv), {NULL}, {0}, obv_bufn, obv_init},
};

/* bt.ta.NAME(...) for a row of ctors (upvalue 1); the label lists the periods. */
static int new_from_ctor(lua_State *L) {
  const lta_ctor *c = lua_touserdata(L, lua_upvalueindex(1));
  int p[MAX_PARAMS] = {0}, n = 0;
  for (; n < MAX_PARAMS && c->params[n]; n++)
    p[n] = period_arg(L, c->t->name, n + 1, c->params[n], c->defaults[n]);
  double *buf;
  lta *h = new_lta(L, c->t, c->objsize, c->bufn(p), &buf);
  c->init(h->obj, p, buf);
  for (int i = 0, at = 0; i < n; i++)
    at += snprintf(h->label + at, sizeof h->label - (size_t)at, "%s%d", i ? ", " : "", p[i]);
  return 1;
}

static int new_bollinger(lua_State *L) {
  int n = period_arg(L, "bollinger", 1, "period", 20);
  double k = luaL_optnumber(L, 2, 2.0);
  if (!isfinite(k) || k < 0) luaL_error(L, "bt.ta.bollinger: k must be a finite number >= 0");
  double *buf;
  lta *h = new_lta(L, &bollinger_type, sizeof(bt_ta_bbands), bt_ta_bbands_bufn(n), &buf);
  bt_ta_bbands_init((bt_ta_bbands *)h->obj, n, k, buf);
  LABEL(h, "%d, %g", n, k);
  return 1;
}

static int new_vwap(lua_State *L) {
  lua_Integer session = luaL_optinteger(L, 1, 86400), offset = luaL_optinteger(L, 2, 0);
  if (session < 1) luaL_error(L, "bt.ta.vwap: session must be >= 1 second");
  lta *h = new_lta(L, &vwap_type, sizeof(bt_ta_vwap), 0, NULL);
  bt_ta_vwap_init((bt_ta_vwap *)h->obj, session, offset);
  LABEL(h, "%lld, %lld", (long long)session, (long long)offset);
  return 1;
}

static int new_crossover(lua_State *L) {
  bool sources = !lua_isnoneornil(L, 1) || !lua_isnoneornil(L, 2);
  if (sources && (!luaL_testudata(L, 1, MT) || !luaL_testudata(L, 2, MT)))
    luaL_error(L, "bt.ta.crossover: expected two bt.ta indicators (or nothing, then update(x, y))");
  lua_settop(L, 2);
  lta *h = lua_newuserdatauv(L, sizeof(lta) + sizeof(bt_ta_cross), sources ? 2 : 0);
  h->t = &crossover_type;
  h->warm = true;
  h->bound = false;
  if (sources) {
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, 2);
    lua_setiuservalue(L, -2, 2);
    LABEL(h, "%s, %s", ((lta *)lua_touserdata(L, 1))->t->name, ((lta *)lua_touserdata(L, 2))->t->name);
  } else {
    h->label[0] = 0;
  }
  bt_ta_cross_reset((bt_ta_cross *)h->obj);
  luaL_setmetatable(L, MT);
  return 1;
}

/* per_symbol's __index: the first lookup of a key calls the factory and keeps its result. */
static int per_symbol_index(lua_State *L) {
  if (lua_isnil(L, 2)) return luaL_error(L, "bt.ta.per_symbol: the key is nil");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_call(L, 0, 1);
  if (lua_isnil(L, -1)) return luaL_error(L, "bt.ta.per_symbol: the factory returned nil");
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  return 1;
}

static int new_per_symbol(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, per_symbol_index, 1);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  return 1;
}

int bt_lua_open_ta(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"update", m_update}, {"value", m_value}, {"reset", m_reset}, {NULL, NULL}};
  if (luaL_newmetatable(L, MT)) {
    luaL_newlibtable(L, methods);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, methods, 1);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, m_tostring, 1);
    lua_setfield(L, -2, "__tostring");
    lua_pushlightuserdata(L, (void *)&bar_vt);
    lua_setfield(L, -2, BT_BAR_INDICATOR_KEY);
  }
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"bollinger", new_bollinger}, {"vwap", new_vwap},
                                  {"crossover", new_crossover}, {"per_symbol", new_per_symbol},
                                  {NULL, NULL}};
  luaL_newlib(L, fns);
  for (size_t i = 0; i < sizeof ctors / sizeof ctors[0]; i++) {
    lua_pushlightuserdata(L, (void *)&ctors[i]);
    lua_pushcclosure(L, new_from_ctor, 1);
    lua_setfield(L, -2, ctors[i].t->name);
  }
  return 1;
}
