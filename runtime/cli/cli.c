/* cli.c - `btrun` argument parsing, strategy/script dispatch, the run summary and
 * exit codes. The only place that decides what the user sees and how the process ends. */
#include "cli.h"

#include <errno.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_opts.h"
#include "log.h"
#include "log_config.h"
#include "luabind.h"
#include "run_summary.h"
#include "suggest.h"

#define MAX_LIST 64

static const char USAGE[] =
    "usage: btrun [options] FILE.lua [options] [-- script args...]\n"
    "       btrun COMMAND [args...]      (btrun COMMAND --help for details)\n"
    "\n"
    "Options may come before or after FILE.lua; an unknown option is an error. A\n"
    "script's own arguments follow `--` (`arg` in the script).\n"
    "Runs a backtest when FILE.lua returns a strategy table, otherwise runs it as a\n"
    "script with the `bt` module (bt.backtest{...} runs backtests from Lua,\n"
    "bt.sweep{...} a parameter grid of them on every core: docs/sweeps.md).\n"
    "Indicators (SMA, EMA, RSI, MACD, ATR, ...): bt.ta, docs/indicators.md; example\n"
    "strategies: strategies/*.lua.\n"
    "Strategies run sandboxed: no processes, no C modules, no debug, no writes, reads\n"
    "only below their own directory (docs/sandbox.md); config trust_strategies = true\n"
    "or BTRUN_TRUST_STRATEGIES=1 trusts local strategies. Scripts are trusted.\n"
    "\n"
    "Run options:\n"
    "  --data [SYM=]PATH      CSV data file (repeatable; symbol from the file name\n"
    "                         unless SYM= is given). Default: bundled sample data\n"
    "  --param NAME=VALUE     override a strategy parameter (repeatable; numbers\n"
    "                         become numbers, true/false booleans)\n"
    "  --cash AMOUNT          starting cash (default 100000, or config `cash`)\n"
    "  --out DIR              run directory (default <out_dir>/<run_id>, out_dir=runs)\n"
    "  --config FILE          config file (default config/btrun.lua when present)\n"
    "  --correlation-id ID    correlation id for every record of the run (default: new UUID)\n"
    "  --user-id ID           user id for logs and analytics (or config `user_id`)\n"
    "  --timeout SECONDS      wall-clock limit per run (default 600)\n"
    "  --max-memory SIZE      Lua heap cap, e.g. 256M, 1G (default 512M)\n"
    "  --skip-bad-rows        skip and count malformed CSV rows instead of failing\n"
    "  --date-format FMT      strptime form of the data's time column (%m/%d/%Y), UTC\n"
    "  --columns MAP          column names for roles: time=open_time,close=c,...\n"
    "  --no-cache             parse the CSV data, neither using nor writing the bar\n"
    "                         cache (<data-dir>/cache/bars; `btrun cache clear` empties it)\n"
    "  --benchmark SYM=PATH   a price series report.html compares the run with, besides\n"
    "                         the buy-and-hold of the run's own symbols\n"
    "  --log-format FMT       json | console (default: console on a terminal, else json)\n"
    "  --log-level LEVEL      debug | info | warning | error (default info, or $BTRUN_LOG_LEVEL)\n"
    "  --data-dir DIR         where the event store, analytics spool and ids live\n"
    "                         (default $BTRUN_DATA_DIR, else ~/.local/share/btrun)\n"
    "  -h, --help             this help\n"
    "  --version              print the version\n"
    "\n"
    "Exit status: 0 success, 1 error (bad input, failed run), 2 degraded (perf alerts).\n"
    "Docs: docs/strategy-api.md, docs/outputs.md, docs/config.md, docs/cli.md\n";

static void print_help(void) {
  fputs(USAGE, stdout);
  if (bt_cli_commands[0].name) {
    fputs("\nCommands:\n", stdout);
    for (const bt_cli_command *c = bt_cli_commands; c->name; c++)
      printf("  %-12s %s\n", c->name, c->summary);
  }
}

typedef struct cli_opts {
  const char *file;
  const char *extra;      /* a second word that is no option (an error) */
  const char *data[MAX_LIST];
  int ndata;
  bt_param params[MAX_LIST];
  int nparams;
  const char *cash, *out, *config, *correlation_id, *user_id, *timeout, *max_memory, *benchmark;
  const char *log_format, *log_level, *data_dir, *date_format, *columns;
  bool skip_bad_rows, help, no_cache;
  int script_argc;        /* the arguments after "--" */
  char **script_argv;
} cli_opts;

static const bt_cli_usage USAGE_ERR = {.prog = "btrun",
                                       .hint = "Try 'btrun --help'.",
                                       .unknown = "unknown option '%s'",
                                       .needs_value = "option %s needs a value",
                                       .rest = true};

static int parse_size(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno || v <= 0) return -1;
  switch (*end) {
  case 'k': case 'K': v *= 1024, end++; break;
  case 'm': case 'M': v *= 1024 * 1024, end++; break;
  case 'g': case 'G': v *= 1024.0 * 1024 * 1024, end++; break;
  }
  if (*end == 'B' || *end == 'b') end++;
  if (*end) return -1;
  *out = (int64_t)v;
  return 0;
}

/* Options may come before or after FILE.lua; the script's own arguments follow "--". */
static int parse_args(int argc, char **argv, cli_opts *o) {
  const char *param_args[MAX_LIST];
  int nparam_args = 0;
  const bt_cli_opt opts[] = {
      {"--data", .list = o->data, .count = &o->ndata, .max = MAX_LIST,
       .too_many = "too many --data files (max 64)"},
      {"--param", .list = param_args, .count = &nparam_args, .max = MAX_LIST,
       .too_many = "too many --param (max 64)"},
      {"--cash", .value = &o->cash},
      {"--out", .value = &o->out},
      {"--config", .value = &o->config},
      {"--correlation-id", .value = &o->correlation_id},
      {"--user-id", .value = &o->user_id},
      {"--timeout", .value = &o->timeout},
      {"--max-memory", .value = &o->max_memory},
      {"--log-format", .value = &o->log_format},
      {"--log-level", .value = &o->log_level},
      {"--data-dir", .value = &o->data_dir},
      {"--date-format", .value = &o->date_format},
      {"--columns", .value = &o->columns},
      {"--skip-bad-rows", .flag = &o->skip_bad_rows},
      {"--no-cache", .flag = &o->no_cache},
      {"--benchmark", .value = &o->benchmark},
      {.name = NULL}};
  bt_cli_args args;
  if (bt_cli_parse(&USAGE_ERR, opts, argc, argv, 1, &args)) return 1;
  o->help = args.help;
  if (args.npos) o->file = args.pos[0];
  if (args.npos > 1) o->extra = args.pos[1];
  o->script_argc = args.nrest;
  o->script_argv = args.rest;
  for (int i = 0; i < nparam_args; i++) {
    char *v = (char *)param_args[i], *eq = strchr(v, '=');
    if (!eq || eq == v)
      return bt_cli_usage_error(&USAGE_ERR, "--param wants NAME=VALUE, got '%s'", v);
    *eq = '\0';
    o->params[o->nparams++] = (bt_param){v, eq + 1};
  }
  if (o->benchmark) {
    const char *eq = strchr(o->benchmark, '=');
    if (!eq || eq == o->benchmark || !eq[1])
      return bt_cli_usage_error(&USAGE_ERR, "--benchmark wants SYM=PATH, got '%s'", o->benchmark);
    if (access(eq + 1, R_OK) != 0)
      return bt_cli_usage_error(&USAGE_ERR, "--benchmark: cannot read %s", eq + 1);
  }
  return 0;
}

/* Applies command-line overrides to the loaded config. */
static int apply_overrides(bt_app *app, const cli_opts *o) {
  bt_config *c = &app->cfg;
  if (o->cash) {
    long n = (long)strlen(o->cash);
    if (bt_dec_parse(o->cash, n, &c->cash) != n || c->cash.v <= 0)
      return bt_cli_usage_error(&USAGE_ERR, "--cash: not a positive amount: '%s'", o->cash);
  }
  if (o->timeout) {
    char *end;
    c->timeout_s = strtod(o->timeout, &end);
    if (*end || c->timeout_s <= 0)
      return bt_cli_usage_error(&USAGE_ERR, "--timeout: not a positive number: '%s'", o->timeout);
  }
  if (o->max_memory && (parse_size(o->max_memory, &c->max_memory) || c->max_memory < (1 << 20)))
    return bt_cli_usage_error(&USAGE_ERR, "--max-memory: want a size of at least 1M, got '%s'",
                              o->max_memory);
  if (o->user_id) snprintf(c->user_id, sizeof c->user_id, "%s", o->user_id);
  if (c->user_id[0]) {
    bt_field f = BT_F_STR("user_id", c->user_id);
    bt_log_bind(&f, 1);
  }
  if (o->data_dir) snprintf(c->data_dir, sizeof c->data_dir, "%s", o->data_dir);
  if (o->skip_bad_rows) c->skip_bad_rows = true;
  if (o->no_cache) c->bar_cache = false;
  if (o->date_format) snprintf(c->date_format, sizeof c->date_format, "%s", o->date_format);
  if (o->columns) snprintf(c->columns, sizeof c->columns, "%s", o->columns);
  return 0;
}

/* The script's state, so SIGINT/SIGTERM can stop Lua that runs outside any backtest
 * (a run's own watchdog covers the rest). Process-wide because signals are. */
static lua_State *volatile script_state;

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  bt_lua_raise_stop(L, BT_LUA_STOP_INTERRUPT, 0);
}

static void on_signal(int sig) {
  (void)sig;
  bt_run_interrupt();
  lua_State *L = script_state;
  /* lua_sethook is async-signal-safe (lua.c's laction does the same). */
  if (L) lua_sethook(L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void install_signals(void) {
  signal(SIGPIPE, SIG_IGN); /* a closed stdout pipe becomes EPIPE, handled by the logger */
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static void report_error(const bt_err *err) {
  /* The failure is already a log record with the traceback on stdout; stderr gets the
   * one-line message, so stdout stays pure JSON in json mode. */
  fprintf(stderr, "btrun: %s\n", err->msg);
}

/* The file returned a strategy table: run it in the state that loaded it. */
static int run_strategy(bt_app *app, lua_State *L, const cli_opts *o) {
  bt_run_spec spec = {.strategy_path = o->file, .data = o->data, .ndata = o->ndata,
                      .params = o->params, .nparams = o->nparams, .out_dir = o->out,
                      .correlation_id = o->correlation_id, .write_files = true,
                      .live_progress = true};
  bt_run_result res;
  bt_err err = {0};
  int rc = bt_run_execute_in(app, L, &spec, &res, &err);
  if (rc) report_error(&err);
  /* JSON mode has no table: backtest_completed carries the figures */
  else if (bt_log_get_format() != BT_LOG_FORMAT_JSON) bt_run_summary_print(stdout, o->file, &res);
  bt_err_clear(&err);
  return rc ? 1 : 0;
}

/* bt.options reads go through this proxy so btrun knows whether a script used them. */
#define OPTIONS_READ_KEY "btrun.cli.options_read"

static void mark_options_read(lua_State *L) {
  lua_pushboolean(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, OPTIONS_READ_KEY);
}

static int options_index(lua_State *L) {
  mark_options_read(L);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int options_next(lua_State *L) {
  lua_settop(L, 2);
  return lua_next(L, 1) ? 2 : (lua_pushnil(L), 1);
}

static int options_pairs(lua_State *L) {
  mark_options_read(L);
  lua_pushcfunction(L, options_next);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushnil(L);
  return 3;
}

/* Sets bt.options: the parsed run options, so scripts can honour --data/--param/--out. */
static void push_options(lua_State *L, const cli_opts *o) {
  lua_getglobal(L, "bt");
  lua_newtable(L); /* the proxy */
  lua_createtable(L, 0, 3);
  lua_createtable(L, 0, 4);
  lua_createtable(L, o->ndata, 0);
  for (int i = 0; i < o->ndata; i++) lua_pushstring(L, o->data[i]), lua_rawseti(L, -2, i + 1);
  lua_setfield(L, -2, "data");
  lua_createtable(L, 0, o->nparams);
  for (int i = 0; i < o->nparams; i++) {
    if (!lua_stringtonumber(L, o->params[i].value)) lua_pushstring(L, o->params[i].value);
    lua_setfield(L, -2, o->params[i].name);
  }
  lua_setfield(L, -2, "params");
  if (o->out) lua_pushstring(L, o->out), lua_setfield(L, -2, "out");
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, options_index, 1);
  lua_setfield(L, -3, "__index");
  lua_pushcclosure(L, options_pairs, 1);
  lua_setfield(L, -2, "__pairs");
  lua_setmetatable(L, -2);
  lua_setfield(L, -2, "options");
  lua_pop(L, 1);
}

/* The run options (not --config, --log-*, ids: those apply to any script) given, as
 * "--data, --out", or "" for none. */
static void run_options_given(const cli_opts *o, char *out, size_t n) {
  const struct { const char *name; bool given; } all[] = {
      {"--data", o->ndata > 0},          {"--param", o->nparams > 0},
      {"--cash", o->cash != NULL},       {"--out", o->out != NULL},
      {"--timeout", o->timeout != NULL}, {"--max-memory", o->max_memory != NULL},
      {"--skip-bad-rows", o->skip_bad_rows}, {"--date-format", o->date_format != NULL},
      {"--columns", o->columns != NULL}, {"--benchmark", o->benchmark != NULL}};
  out[0] = '\0';
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (all[i].given)
      snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? ", " : "", all[i].name);
}

static void count_run(void *ud, const bt_run_info *info, const bt_run_outcome *outcome) {
  (void)info, (void)outcome;
  (*(int *)ud)++;
}

/* A file that returned no strategy table, ran no backtest and never looked at
 * bt.options ignored the run options it was given: most likely a strategy file that
 * lost its final `return`. Running nothing with exit 0 would hide that. */
static int check_options_used(lua_State *L, const cli_opts *o, int runs, bt_err *err) {
  char given[160];
  run_options_given(o, given, sizeof given);
  lua_getfield(L, LUA_REGISTRYINDEX, OPTIONS_READ_KEY);
  bool read = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (!given[0] || runs > 0 || read) return 0;
  return bt_errf_at(err, BT_EINVAL, "usage_error", o->file, 0, "",
                    "the file returned no strategy table and ran no backtest, so %s had no effect: a "
                    "strategy file must end with `return { on_bar = ... }` (a script runs "
                    "backtests with bt.backtest or reads bt.options; docs/cli.md)",
                    given);
}

static int run_file(bt_app *app, const cli_opts *o) {
  bt_err err = {0};
  /* A strategy runs sandboxed from its first line on (unless the config trusts
   * strategies); a script (it drives bt.backtest, writes files) is trusted. */
  bool strategy = bt_lua_file_is_strategy(o->file);
  lua_State *L = strategy ? bt_lua_new_strategy_state(app, o->file, !app->cfg.trust_strategies, &err)
                          : bt_lua_new_state(app, &err);
  if (!L) {
    report_error(&err);
    return 1;
  }
  /* `arg` as lua.c sets it: arg[0] = the file, arg[1..] = the words after "--". */
  lua_createtable(L, o->script_argc, 1);
  lua_pushstring(L, o->file);
  lua_rawseti(L, -2, 0);
  for (int i = 0; i < o->script_argc; i++) {
    lua_pushstring(L, o->script_argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setglobal(L, "arg");
  push_options(L, o);
  int runs = 0;
  const bt_run_observer counter = {.name = "cli", .ud = &runs, .on_end = count_run};
  if (bt_app_add_observer(app, &counter)) {
    bt_errf(&err, BT_ENOMEM, "usage_error", "too many run observers");
    report_error(&err);
    bt_err_clear(&err);
    bt_lua_close(L);
    return 1;
  }

  int rc = 0;
  script_state = L;
  if (luaL_loadfilex(L, o->file, strategy ? "t" : NULL) != LUA_OK) {
    bt_errf(&err, BT_ELUA, "lua_error", "%s", lua_tostring(L, -1));
    char *exc = bt_log_err_json(&err);
    bt_log("cli", BT_LOG_ERROR, "script_failed", BT_F_STR("file", o->file), BT_F_JSON("exception", exc));
    free(exc);
    report_error(&err);
    rc = 1;
  } else {
    int status = bt_lua_pcall(L, 0, 1, &err);
    if (status) {
      char *exc = bt_log_err_json(&err);
      bt_log("cli", BT_LOG_ERROR, "script_failed", BT_F_STR("file", o->file), BT_F_JSON("exception", exc));
      free(exc);
      report_error(&err);
      rc = 1;
    } else if (lua_istable(L, -1) && !strategy) {
      /* It ran as a trusted script: running its table as a strategy would skip the
       * sandbox for its top-level code. */
      bt_errf_at(&err, BT_EINVAL, "strategy_error", o->file, 0, "",
                 "%s returned a strategy table but was run as a script: a strategy file "
                 "returns its table with a line starting with `return` (docs/sandbox.md)",
                 o->file);
      report_error(&err);
      rc = 1;
    } else if (lua_istable(L, -1)) {
      rc = run_strategy(app, L, o);
    } else if (check_options_used(L, o, runs, &err)) {
      report_error(&err);
      rc = 1;
    }
  }
  bt_err_clear(&err);
  script_state = NULL;
  bt_lua_close(L);
  return rc;
}

/* Finds and removes `--config FILE` so subcommands never see it. */
static const char *take_config(int *argc, char **argv) {
  for (int i = 1; i + 1 < *argc; i++)
    if (strcmp(argv[i], "--config") == 0) {
      const char *v = argv[i + 1];
      memmove(argv + i, argv + i + 2, (size_t)(*argc - i - 1) * sizeof *argv);
      *argc -= 2;
      return v;
    }
  return NULL;
}

/* A run stuck in a C function after its limit cannot be stopped from inside the
 * process: end it, as SIGKILL would, but saying why. Its run directory holds no
 * result.json (failed, docs/outputs.md) and the store shows the run incomplete. */
static void on_stuck(bt_app *app, const char *msg) {
  (void)app;
  bt_log("run", BT_LOG_ERROR, "run_stuck", BT_F_STR("message", msg));
  fprintf(stderr, "btrun: %s; exiting\n", msg);
  _exit(1);
}

static int init_app(bt_app *app, const char *config) {
  bt_err err = {0};
  const char *path = config ? config : getenv("BTRUN_CONFIG");
  bool explicit_path = path != NULL;
  if (!path) path = "config/btrun.lua";
  if (bt_app_init(app, path, explicit_path, &err) || bt_log_configure(&app->cfg, &err)) {
    char *exc = bt_log_err_json(&err);
    bt_log("cli", BT_LOG_ERROR, "config_invalid", BT_F_STR("file", err.file),
           BT_F_STR("key", err.field), BT_F_STR("message", err.msg), BT_F_JSON("exception", exc));
    free(exc);
    report_error(&err);
    bt_err_clear(&err);
    bt_app_close(app);
    return 1;
  }
  app->on_stuck = on_stuck;
  return 0;
}

/* FILE must exist: a word that is no file is most likely a mistyped command
 * (`btrun backtest x`), a path that is none a missing file. */
static int check_file(const char *file) {
  if (access(file, F_OK) == 0) return 0;
  size_t n = strlen(file);
  if (strchr(file, '/') || (n > 4 && strcmp(file + n - 4, ".lua") == 0))
    return bt_cli_usage_error(&USAGE_ERR, "cannot open %s: %s", file, strerror(errno));
  bt_suggester s;
  bt_suggest_init(&s, file);
  for (const bt_cli_command *c = bt_cli_commands; c->name; c++) {
    if (strcmp(file, c->name) == 0) /* after run options: `btrun --log-format json events` */
      return bt_cli_usage_error(&USAGE_ERR, "'%s' is a command: give it first, with its own "
                                "options after it (btrun %s --help)", file, file);
    bt_suggest_add(&s, c->name);
  }
  const char *near = bt_suggest_best(&s);
  char cmds[512] = "";
  for (const bt_cli_command *c = bt_cli_commands; c->name; c++)
    snprintf(cmds + strlen(cmds), sizeof cmds - strlen(cmds), "%s%s", cmds[0] ? ", " : "", c->name);
  if (near)
    return bt_cli_usage_error(&USAGE_ERR, "unknown command '%s'; did you mean '%s'?", file, near);
  return bt_cli_usage_error(&USAGE_ERR,
                            "unknown command '%s' and no such file (commands: %s; a backtest: "
                            "btrun FILE.lua)", file, cmds);
}

/* -h or --help among a command's arguments (before a "--"). */
static bool help_requested(int argc, char **argv) {
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return true;
  return false;
}

/* word is one of c's subcommands; else "btrun NAME: unknown command 'x'; did you mean
 * 'y'?" and the list of them. */
static int check_subcommand(const bt_cli_command *c, const char *word) {
  size_t n = 0;
  char list[256] = "";
  for (; c->subcommands[n]; n++) {
    if (strcmp(c->subcommands[n], word) == 0) return 0;
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", n ? ", " : "",
             c->subcommands[n]);
  }
  char prog[64], hint[384];
  snprintf(prog, sizeof prog, "btrun %s", c->name);
  snprintf(hint, sizeof hint, "Commands: %s. Try 'btrun %s --help'.", list, c->name);
  const bt_cli_usage u = {.prog = prog, .hint = hint, .unknown = "unknown command '%s'"};
  return bt_cli_unknown(&u, word, c->subcommands, n);
}

int bt_cli_main(int argc, char **argv) {
  install_signals();
  if (argc < 2) {
    fputs(USAGE, stderr);
    return 1;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("btrun %s (%s)\n", BT_VERSION, LUA_RELEASE);
    return 0;
  }
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
    print_help();
    return 0;
  }
  /* --config may stand anywhere, also before a command name. */
  const char *config = take_config(&argc, argv);
  if (argc < 2) return bt_cli_usage_error(&USAGE_ERR, "no strategy, script or command given");
  for (const bt_cli_command *c = bt_cli_commands; c->name; c++) {
    if (strcmp(argv[1], c->name) != 0) continue;
    /* A command's stdout is its output (tables, jsonl, csv): its log records go to
     * stderr so `btrun events list --format jsonl | jq` sees only events. */
    bt_log_set_fd(2);
    /* Help is answered here for every command: it sets up nothing (no config, no
     * modules), so it cannot change the data dir (an analytics installation id, a
     * spool) or fail on a bad config, and no command parses -h/--help itself. */
    if (help_requested(argc - 1, argv + 1)) return fputs(c->help, stdout), 0;
    if (c->subcommands && argc == 2) return fputs(c->help, stderr), 1;
    if (c->subcommands && check_subcommand(c, argv[2])) return 1;
    bt_app app;
    if (init_app(&app, config)) return 1;
    int rc = c->fn(&app, argc - 1, argv + 1);
    bt_app_close(&app);
    return rc;
  }

  /* `btrun backtest x` is a mistyped command, not a file with a bad argument. */
  if (argv[1][0] != '-' && check_file(argv[1])) return 1;
  cli_opts o = {.config = config};
  if (parse_args(argc, argv, &o)) return 1;
  if (o.help) {
    print_help();
    return 0;
  }
  if (!o.file) return bt_cli_usage_error(&USAGE_ERR, "no strategy or script file given");
  if (check_file(o.file)) return 1;
  if (o.extra)
    return bt_cli_usage_error(&USAGE_ERR, "unexpected argument '%s' after %s (a script's own "
                              "arguments follow '--': btrun %s [options] -- %s ...)",
                              o.extra, o.file, o.file, o.extra);
  /* Command-line log settings win over config; set them first so config errors are
   * rendered in the requested format. */
  if (o.log_format) {
    if (strcmp(o.log_format, "json") == 0) bt_log_set_format(BT_LOG_FORMAT_JSON);
    else if (strcmp(o.log_format, "console") == 0) bt_log_set_format(BT_LOG_FORMAT_CONSOLE);
    else
      return bt_cli_usage_error(&USAGE_ERR, "--log-format: want json or console, got '%s'",
                                o.log_format);
  }
  bt_log_level lvl;
  if (o.log_level && bt_log_level_parse(o.log_level, &lvl))
    return bt_cli_usage_error(
        &USAGE_ERR, "--log-level: want debug, info, warning or error, got '%s'", o.log_level);
  if (o.log_level) bt_log_set_level(lvl);
  /* One correlation id for the whole invocation (given or generated), bound before
   * anything logs: every line of the process carries it, and runs inherit it (a script's
   * runs share it and differ by run_id). */
  char cid[128];
  if (o.correlation_id) snprintf(cid, sizeof cid, "%s", o.correlation_id);
  else bt_uuid(cid);
  bt_field cid_field = BT_F_STR("correlation_id", cid);
  bt_log_bind(&cid_field, 1);
  bt_app app;
  if (init_app(&app, o.config)) return 1;
  /* Command-line settings win over the config's log section. */
  if (o.log_format) bt_log_set_format(o.log_format[0] == 'j' ? BT_LOG_FORMAT_JSON : BT_LOG_FORMAT_CONSOLE);
  if (o.log_level) bt_log_set_level(lvl);
  snprintf(app.correlation_id, sizeof app.correlation_id, "%s", cid);
  app.benchmark = o.benchmark;
  int rc = apply_overrides(&app, &o);
  if (!rc) rc = run_file(&app, &o);
  bt_app_close(&app);
  return rc;
}
