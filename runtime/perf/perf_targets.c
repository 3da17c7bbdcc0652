#include "perf_targets.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "luabind.h"
#include "perf_files.h"
#include "perf_hash.h"
#include "formats.h"
#include "sandbox.h"

typedef struct rule {
  char name[64];
  char severity[16];
  int ref;
} rule;

struct bt_perf_targets {
  lua_State *L;
  char path[1024];
  uint64_t hash;
  bool has_win_rate, has_rr, has_avg_win, has_avg_loss;
  double win_rate_min, rr_min;
  uint32_t win_rate_window, rr_window;
  bool rr_r_multiple;
  bt_dec avg_win_min, avg_loss_max;
  char sev_win_rate[16], sev_rr[16], sev_avg_win[16], sev_avg_loss[16];
  rule *rules;
  int nrules;
};

static int severity(lua_State *L, int idx, const char *where, char out[16], bt_err *err) {
  snprintf(out, 16, "warning");
  int rc = bt_cfg_string(L, idx, where, "severity", out, 16, err);
  if (rc) return rc;
  if (strcmp(out, "info") && strcmp(out, "warning") && strcmp(out, "critical")) {
    lua_getfield(L, LUA_REGISTRYINDEX, "btrun.config_path");
    char field[64];
    snprintf(field, sizeof field, "%s.severity", where);
    bt_errf_at(err, BT_EINVAL, "config_error", lua_tostring(L, -1), 0, field,
               "expected \"info\", \"warning\" or \"critical\"");
    lua_pop(L, 1);
    return err->code;
  }
  return 0;
}

static int positive_window(int64_t w, const char *where, const char *file, bt_err *err) {
  if (w < 1 || w > 100000)
    return bt_errf_at(err, BT_EINVAL, "config_error", file, 0, where,
                      "window must be an integer between 1 and 100000");
  return 0;
}

/* Push targets.<name>: true when it is a table (then at the stack top); false when it is
 * absent, or with *rc set when it is something else. */
static bool section(bt_perf_targets *t, int top, const char *name, const char *expected, int *rc,
                    bt_err *err) {
  *rc = 0;
  if (lua_getfield(t->L, top, name) == LUA_TTABLE) return true;
  if (!lua_isnil(t->L, -1))
    *rc = bt_errf_at(err, BT_EINVAL, "config_error", t->path, 0, name, "expected %s", expected);
  return false;
}

/* The fields of a rolling target at the stack top: min, window (default def), measure
 * (when asked for) and severity, validated in that order. */
static int rolling_fields(bt_perf_targets *t, const char *name, const char *const *keys,
                          double *min, int64_t def, uint32_t *window, char *measure,
                          size_t mlen, char sev[16], bt_err *err) {
  lua_State *L = t->L;
  int i = lua_gettop(L), rc;
  int64_t w = def;
  char where[32];
  snprintf(where, sizeof where, "%s.window", name);
  *min = -1;
  if ((rc = bt_cfg_check_keys(L, i, name, keys, err)) ||
      (rc = bt_cfg_number(L, i, name, "min", min, err)) ||
      (rc = bt_cfg_integer(L, i, name, "window", &w, err)) ||
      (measure && (rc = bt_cfg_string(L, i, name, "measure", measure, mlen, err))) ||
      (rc = severity(L, i, name, sev, err)) || (rc = positive_window(w, where, t->path, err)))
    return rc;
  *window = (uint32_t)w;
  return 0;
}

static int load_table(bt_perf_targets *t, int top, bt_err *err) {
  lua_State *L = t->L;
  static const char *const keys[] = {"win_rate", "risk_reward", "avg_win", "avg_loss", "rules", NULL};
  int rc = bt_cfg_check_keys(L, top, "", keys, err);
  if (rc) return rc;
  if (section(t, top, "win_rate", "a table", &rc, err)) {
    static const char *const k[] = {"min", "window", "severity", NULL};
    t->has_win_rate = true;
    if ((rc = rolling_fields(t, "win_rate", k, &t->win_rate_min, 20, &t->win_rate_window, NULL, 0,
                             t->sev_win_rate, err)))
      return rc;
    if (t->win_rate_min < 0 || t->win_rate_min > 1)
      return bt_errf_at(err, BT_EINVAL, "config_error", t->path, 0, "win_rate.min",
                        "expected a number between 0 and 1");
  } else if (rc) {
    return rc;
  }
  lua_settop(L, top);
  if (section(t, top, "risk_reward", "a table", &rc, err)) {
    static const char *const k[] = {"min", "window", "measure", "severity", NULL};
    char measure[32] = "payoff";
    t->has_rr = true;
    if ((rc = rolling_fields(t, "risk_reward", k, &t->rr_min, 10, &t->rr_window, measure,
                             sizeof measure, t->sev_rr, err)))
      return rc;
    if (t->rr_min < 0)
      return bt_errf_at(err, BT_EINVAL, "config_error", t->path, 0, "risk_reward.min",
                        "expected a number >= 0");
    if (strcmp(measure, "payoff") && strcmp(measure, "r_multiple"))
      return bt_errf_at(err, BT_EINVAL, "config_error", t->path, 0, "risk_reward.measure",
                        "expected \"payoff\" or \"r_multiple\"");
    t->rr_r_multiple = strcmp(measure, "r_multiple") == 0;
  } else if (rc) {
    return rc;
  }
  lua_settop(L, top);
  const char *money_keys[2] = {"avg_win", "avg_loss"};
  for (int m = 0; m < 2; m++) {
    if (section(t, top, money_keys[m], "a table", &rc, err)) {
      static const char *const kw[] = {"min", "severity", NULL}, *const kl[] = {"max", "severity", NULL};
      int i = lua_gettop(L);
      bt_dec *v = m ? &t->avg_loss_max : &t->avg_win_min;
      v->v = -1;
      if ((rc = bt_cfg_check_keys(L, i, money_keys[m], m ? kl : kw, err)) ||
          (rc = bt_cfg_decimal(L, i, money_keys[m], m ? "max" : "min", v, err)) ||
          (rc = severity(L, i, money_keys[m], m ? t->sev_avg_loss : t->sev_avg_win, err)))
        return rc;
      if (v->v < 0)
        return bt_errf_at(err, BT_EINVAL, "config_error", t->path, 0, money_keys[m],
                          "needs %s = a money amount >= 0", m ? "max" : "min");
      if (m) t->has_avg_loss = true;
      else t->has_avg_win = true;
    } else if (rc) {
      return rc;
    }
    lua_settop(L, top);
  }
  if (section(t, top, "rules", "a list", &rc, err)) {
    int ri = lua_gettop(L);
    lua_Integer n = luaL_len(L, ri);
    t->rules = calloc((size_t)(n ? n : 1), sizeof *t->rules);
    if (!t->rules) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    for (lua_Integer k = 1; k <= n; k++) {
      char where[32];
      snprintf(where, sizeof where, "rules[%lld]", (long long)k);
      if (lua_rawgeti(L, ri, k) != LUA_TTABLE)
        return bt_errf_at(err, BT_EINVAL, "config_error", t->path, 0, where, "expected a table");
      static const char *const kr[] = {"name", "check", "severity", "description", NULL};
      int i = lua_gettop(L);
      rule *r = &t->rules[t->nrules];
      if ((rc = bt_cfg_check_keys(L, i, where, kr, err)) ||
          (rc = bt_cfg_string(L, i, where, "name", r->name, sizeof r->name, err)) ||
          (rc = severity(L, i, where, r->severity, err)))
        return rc;
      if (!r->name[0] || !bt_perf_safe_name(r->name))
        return bt_errf_at(err, BT_EINVAL, "config_error", t->path, 0, where,
                          "name: expected a short identifier like \"daily_loss_limit\"");
      if (lua_getfield(L, i, "check") != LUA_TFUNCTION)
        return bt_errf_at(err, BT_EINVAL, "config_error", t->path, 0, where,
                          "check: expected function(summary) -> ok, actual, target");
      r->ref = luaL_ref(L, LUA_REGISTRYINDEX);
      t->nrules++;
      lua_settop(L, ri);
    }
  } else if (rc) {
    return rc;
  }
  lua_settop(L, top);
  return 0;
}

int bt_perf_targets_load(bt_perf_targets **out, const char *path, bool explicit_path,
                         int64_t rolling_override, bt_err *err) {
  bt_perf_targets *t = calloc(1, sizeof *t);
  if (!t) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  *out = t;
  t->hash = BT_PERF_FNV_BASIS;
  if (path && access(path, F_OK) == 0) {
    snprintf(t->path, sizeof t->path, "%s", path);
    t->L = luaL_newstate();
    if (!t->L) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    luaL_openlibs(t->L);
    /* Target rules are untrusted code: they read (and require) files beside them only. */
    char dir[1100], req[2300];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else *slash = '\0';
    snprintf(req, sizeof req, "%s/?.lua;%s/?/init.lua", dir, dir);
    if (bt_sandbox_apply(t->L, dir, req, err)) return err->code;
    lua_pushstring(t->L, path); /* config readers name this file in their messages */
    lua_setfield(t->L, LUA_REGISTRYINDEX, "btrun.config_path");
    FILE *f = fopen(path, "rb");
    if (f) {
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, f)) > 0) t->hash = bt_perf_fnv(t->hash, buf, n);
      fclose(f);
    }
    if (luaL_loadfilex(t->L, path, "t") != LUA_OK) {
      bt_errf(err, BT_EINVAL, "config_error", "%s", lua_tostring(t->L, -1));
      return err->code;
    }
    if (bt_lua_pcall_in(t->L, 0, 1, path, err)) return err->code;
    if (!lua_istable(t->L, -1))
      return bt_errf(err, BT_EINVAL, "config_error", "%s: must return a table of targets", path);
    int rc = load_table(t, lua_gettop(t->L), err);
    lua_settop(t->L, 0);
    if (rc) return rc;
  } else if (path && explicit_path) {
    return bt_errf(err, BT_EIO, "config_error", "targets file %s: not found", path);
  }
  if (rolling_override > 0 && t->has_win_rate) {
    if (rolling_override > 100000)
      return bt_errf(err, BT_EINVAL, "config_error",
                     "PERFORMANCE_ALERT_ROLLING_WINDOW: expected 1..100000");
    t->win_rate_window = (uint32_t)rolling_override;
  }
  t->hash = bt_perf_fnv(t->hash, &t->win_rate_window, sizeof t->win_rate_window);
  return 0;
}

void bt_perf_targets_free(bt_perf_targets *t) {
  if (!t) return;
  if (t->L) lua_close(t->L);
  free(t->rules);
  free(t);
}

uint32_t bt_perf_targets_tail_k(const bt_perf_targets *t) {
  uint32_t k = 1;
  if (t->has_win_rate && t->win_rate_window > k) k = t->win_rate_window;
  if (t->has_rr && t->rr_window > k) k = t->rr_window;
  return k;
}

uint64_t bt_perf_targets_hash(const bt_perf_targets *t) { return t->hash; }

/* Rendered into JSON as a number: NaN/inf (e.g. from a custom Lua rule) become null. */
static void fmt_num(char out[40], double d) {
  if (isfinite(d)) snprintf(out, 40, "%.10g", d);
  else snprintf(out, 40, "null");
}

static bt_perf_check *add(bt_perf_summary *s, const char *name, const char *op, const char *sev,
                          bt_err *err) {
  bt_perf_check *c = bt_perf_summary_add_check(s);
  if (!c) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory"), NULL;
  snprintf(c->name, sizeof c->name, "%s", name);
  snprintf(c->type, sizeof c->type, "%s_breach", name);
  snprintf(c->op, sizeof c->op, "%s", op);
  snprintf(c->severity, sizeof c->severity, "%s", sev);
  if (s->no_trades) {
    c->status = BT_PERF_CHECK_SKIPPED;
    snprintf(c->note, sizeof c->note, "No trades in window");
  }
  return c;
}

static void ratio_check(bt_perf_check *c, double actual, double target) {
  fmt_num(c->actual, actual);
  fmt_num(c->target, target);
  c->variance = actual - target;
  c->has_variance = true;
  c->status = actual < target ? BT_PERF_CHECK_BREACH : BT_PERF_CHECK_OK;
}

/* A ">=" target on the last `window` closed trades: *c is its check; returns 1 when *r
 * holds those trades for the caller to judge, 0 when the check is settled (skipped:
 * no trades, or fewer than window), -1 on out of memory. */
static int add_rolling(bt_perf_summary *s, const bt_perf_index *ix, const char *name,
                       const char *sev, uint32_t window, double target, bt_perf_check **c,
                       bt_perf_rolling *r, bt_err *err) {
  if (!(*c = add(s, name, ">=", sev, err))) return -1;
  (*c)->window_trades = window;
  fmt_num((*c)->target, target);
  if (s->no_trades) return 0;
  bt_perf_rolling_last(ix, s->end, window, r);
  if (r->n) {
    (*c)->has_rolling_range = true;
    (*c)->rolling_start = r->first_day, (*c)->rolling_end = r->last_day;
  }
  if (r->n >= window) return 1;
  (*c)->status = BT_PERF_CHECK_SKIPPED;
  snprintf((*c)->note, sizeof (*c)->note, "insufficient trades (%u of %u)", r->n, window);
  return 0;
}

/* risk_reward on the last rr_window trades: payoff ratio or average R-multiple. */
static void judge_rr(const bt_perf_targets *t, bt_perf_check *c, const bt_perf_rolling *r) {
  if (t->rr_r_multiple) {
    if (!r->r_trades) {
      c->status = BT_PERF_CHECK_SKIPPED;
      snprintf(c->note, sizeof c->note, "no trade in the last %u carries risk", r->n);
    } else {
      ratio_check(c, bt_dec_to_double(r->r_sum) / r->r_trades, t->rr_min);
      snprintf(c->note, sizeof c->note, "average R-multiple of the last %u closed trades", r->n);
    }
  } else if (!r->losses && r->wins) {
    c->status = BT_PERF_CHECK_OK;
    snprintf(c->note, sizeof c->note, "no losing trade in the last %u (payoff unbounded)", r->n);
  } else {
    double payoff = r->wins ? bt_dec_to_double(r->gross_profit) * r->losses /
                                  (-bt_dec_to_double(r->gross_loss) * r->wins)
                            : 0;
    ratio_check(c, payoff, t->rr_min);
    snprintf(c->note, sizeof c->note, "payoff ratio of the last %u closed trades", r->n);
  }
}

/* A money target on a summary value: ">=" (min) or "<=" (max). */
static int add_money(bt_perf_summary *s, const char *name, const char *op, const char *sev,
                     bt_dec actual, bt_dec target, bt_err *err) {
  bt_perf_check *c = add(s, name, op, sev, err);
  if (!c) return err->code;
  bt_perf_money_json(target, c->target);
  if (s->no_trades) return 0;
  bt_perf_money_json(actual, c->actual);
  c->variance = bt_dec_to_double(actual) - bt_dec_to_double(target);
  c->has_variance = true;
  int cmp = bt_dec_cmp(actual, target);
  c->status = (op[0] == '>' ? cmp < 0 : cmp > 0) ? BT_PERF_CHECK_BREACH : BT_PERF_CHECK_OK;
  return 0;
}

static int eval_rule(bt_perf_targets *t, const rule *r, bt_perf_check *c, bt_perf_summary *s,
                     bt_err *err) {
  lua_State *L = t->L;
  size_t jl;
  char *json = bt_perf_summary_json(s, "", 0, &jl);
  if (!json) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->ref);
  int rc = bt_formats_push_json(L, json, jl, err);
  free(json);
  if (rc) {
    lua_settop(L, 0);
    return rc;
  }
  char what[1200];
  snprintf(what, sizeof what, "%s: rule %s", t->path, r->name);
  if (bt_lua_pcall_in(L, 1, 3, what, err)) return err->code;
  c->status = lua_toboolean(L, -3) ? BT_PERF_CHECK_OK : BT_PERF_CHECK_BREACH;
  char *slot[2] = {c->actual, c->target};
  double num[2] = {0, 0};
  for (int k = 0; k < 2; k++) {
    int idx = -2 + k;
    if (lua_type(L, idx) == LUA_TNUMBER) {
      num[k] = lua_tonumber(L, idx);
      fmt_num(slot[k], num[k]);
    } else if (lua_type(L, idx) == LUA_TSTRING) {
      const char *str = lua_tostring(L, idx);
      bt_json_buf b = {0};
      bt_json_str(&b, str, strlen(str));
      char *q = bt_json_take(&b, NULL);
      snprintf(slot[k], 40, "%s", q ? q : "null");
      free(q);
    }
  }
  if (lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TNUMBER) {
    c->variance = num[0] - num[1];
    c->has_variance = true;
  }
  lua_settop(L, 0);
  return 0;
}

int bt_perf_targets_eval(bt_perf_targets *t, const bt_perf_index *ix, bt_perf_summary *s,
                         bt_err *err) {
  bt_perf_check *c;
  bt_perf_rolling r;
  int k;
  if (t->has_win_rate) {
    k = add_rolling(s, ix, "win_rate", t->sev_win_rate, t->win_rate_window, t->win_rate_min, &c, &r, err);
    if (k < 0) return err->code;
    if (k) {
      ratio_check(c, (double)r.wins / r.n, t->win_rate_min);
      snprintf(c->note, sizeof c->note, "over the last %u closed trades", r.n);
    }
  }
  if (t->has_rr) {
    k = add_rolling(s, ix, "risk_reward", t->sev_rr, t->rr_window, t->rr_min, &c, &r, err);
    if (k < 0) return err->code;
    if (k) judge_rr(t, c, &r);
  }
  if (t->has_avg_win &&
      add_money(s, "avg_win", ">=", t->sev_avg_win, s->avg_win, t->avg_win_min, err))
    return err->code;
  if (t->has_avg_loss &&
      add_money(s, "avg_loss", "<=", t->sev_avg_loss, bt_dec_abs(s->avg_loss), t->avg_loss_max, err))
    return err->code;
  for (int i = 0; i < t->nrules; i++) {
    if (!(c = add(s, t->rules[i].name, "", t->rules[i].severity, err))) return err->code;
    if (!s->no_trades && eval_rule(t, &t->rules[i], c, s, err)) return err->code;
  }
  return 0;
}
