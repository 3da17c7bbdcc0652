-- test_core_trace.lua: bt.trace from a strategy (run as `btrun FILE`). signal() returns
-- the new event id and makes it the cause of the orders that follow (bt.trace.current()),
-- each bar starts a new cause, emit() refuses runtime event types, and bt.trace is only
-- usable while a backtest runs.
local FIX = "tests/fixtures/core/"
local T = dofile("tests/lua/check.lua")
local check, eq = T.check, T.eq

-- Outside a run
eq(bt.trace.current(), nil, "bt.trace.current() outside a run")
check(not pcall(bt.trace.signal, {}), "bt.trace.signal outside a run is an error")
check(not pcall(bt.trace.emit, "custom", {}), "bt.trace.emit outside a run is an error")

local rec = { bars = {} }
local r = bt.backtest {
  data = FIX .. "up5.csv", write_files = false,
  strategy = {
    on_start = function(ctx) rec.start = bt.trace.current() end,
    on_bar = function(ctx, bar)
      local b = { cause = bt.trace.current() }
      rec.bars[#rec.bars + 1] = b
      if #rec.bars == 2 then
        b.sig = bt.trace.signal { side = "buy", why = "test", nested = { 1, 2 } }
        b.after = bt.trace.current()
        ctx:buy(1)
        b.after_order = bt.trace.current()
        b.sig2 = bt.trace.signal { side = "again" }
        b.after2 = bt.trace.current()
        b.emit = bt.trace.emit("my_note", { x = 1 })
        b.after_emit = bt.trace.current()
        b.emit_signal = bt.trace.emit("SIGNAL", { via = "emit" })
        b.after_emit_signal = bt.trace.current()
        b.explicit = bt.trace.signal { cause = b.sig }
        local ok, err = pcall(bt.trace.emit, "FILL", {})
        b.emit_fill_ok, b.emit_fill_err = ok, tostring(err)
      end
    end,
    on_fill = function(ctx, f) rec.fill_cause = bt.trace.current() end,
  },
}
eq(r.status, "completed", "trace run")
local b1, b2, b3, b4 = rec.bars[1], rec.bars[2], rec.bars[3], rec.bars[4]
eq(math.type(b1.cause), "integer", "current() in on_bar is an integer event id")
check(b1.cause > 0, "the bar's event id is positive")
check(b2.cause > b1.cause, "each bar has a new, larger event id (%s > %s)", b2.cause, b1.cause)
eq(math.type(b2.sig), "integer", "signal returns an integer id")
check(b2.sig > b2.cause, "the signal comes after its bar")
eq(b2.after, b2.sig, "after signal(), current() is the signal: orders take it as cause")
eq(b2.after_order, b2.sig, "submitting an order does not change the cause")
check(b2.sig2 > b2.sig, "a second signal gets a new id")
eq(b2.after2, b2.sig2, "the latest signal is the cause")
eq(math.type(b2.emit), "integer", "emit returns an id")
eq(b2.after_emit, b2.sig2, "a custom emit() does not change the cause")
eq(b2.after_emit_signal, b2.emit_signal, "emit('SIGNAL') acts like signal()")
check(b2.explicit > b2.emit_signal, "signal{cause=} still gets a new id")
eq(b2.emit_fill_ok, false, "emit('FILL') is refused")
check(b2.emit_fill_err:find("emitted by the runtime", 1, true), "emit FILL message: %s", b2.emit_fill_err)
check(b3.cause > b2.explicit, "the next bar starts a new cause (%s)", b3.cause)
-- bar 3's BAR event is published before the fills it causes; on_bar then sees the bar again
check(rec.fill_cause and rec.fill_cause > b3.cause and rec.fill_cause < b4.cause,
  "in on_fill current() is the fill's event, after its bar's event (%s, bar %s)",
  tostring(rec.fill_cause), tostring(b3.cause))
eq(bt.trace.current(), nil, "current() is nil again after the run")

T.done()
print("ok - test_core_trace")
