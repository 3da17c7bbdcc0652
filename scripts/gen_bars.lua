-- gen_bars.lua - deterministic synthetic OHLCV bars (geometric random walk).
--
--   lua5.4 scripts/gen_bars.lua [--bars N] [--seed S] [--start YYYY-MM-DD]
--                               [--freq day|minute] [--price P] [--revert K] [--out FILE]
--
-- Daily bars fall on weekdays; minute bars run round the clock (so 10M bars span
-- about 19 years). Prices have 2 decimals and every row has low <= open, close <= high.
-- The output depends only on the arguments: the generator is a splitmix64 stream in
-- Lua integers and the walk uses only +, -, * on doubles (no libm), so it is the same
-- on every machine. data/sample-daily.csv is `--bars 2500 --seed 42` (the defaults).
-- --revert K (default 0) pulls the price back toward --price by K x (price/P - 1) a
-- bar, so long daily series (1M bars span millennia) stay in a realistic range.

local argv = arg or { ... }
local opt = { bars = 2500, seed = 42, start = "2015-01-02", freq = "day", price = 100, revert = 0, out = "-" }
do
  local i = 1
  while i <= #argv do
    local k, v = argv[i]:match("^%-%-(%w+)$"), argv[i + 1]
    if not k or opt[k] == nil or v == nil then
      io.stderr:write("usage: gen_bars.lua [--bars N] [--seed S] [--start YYYY-MM-DD] ",
        "[--freq day|minute] [--price P] [--revert K] [--out FILE]\n")
      os.exit(2)
    end
    opt[k] = type(opt[k]) == "number" and tonumber(v) or v
    if opt[k] == nil then
      io.stderr:write("gen_bars.lua: --", k, " needs a number\n")
      os.exit(2)
    end
    i = i + 2
  end
end
if opt.freq ~= "day" and opt.freq ~= "minute" then
  io.stderr:write("gen_bars.lua: --freq must be day or minute\n")
  os.exit(2)
end
local y0, m0, d0 = opt.start:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
if not y0 then
  io.stderr:write("gen_bars.lua: --start must be YYYY-MM-DD\n")
  os.exit(2)
end

-- splitmix64: 64-bit wrapping integer arithmetic is exact in Lua 5.4.
local state = math.tointeger(opt.seed) or 42
local function next_u53()
  state = state + 0x9E3779B97F4A7C15
  local z = state
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  z = z ~ (z >> 31)
  return (z >> 11) * (1.0 / 9007199254740992.0) -- uniform in [0, 1)
end
-- Approximately normal (Irwin-Hall of 4 uniforms, variance 1): no log/sqrt needed.
local function gauss()
  return (next_u53() + next_u53() + next_u53() + next_u53() - 2.0) * 1.7320508075688772
end

-- Days since 1970-01-01 <-> civil date (H. Hinnant's algorithms).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end
local function civil_from_days(z)
  z = z + 719468
  local era = (z >= 0 and z or z - 146096) // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  return yoe + era * 400 + (m <= 2 and 1 or 0), m, d
end

local out = opt.out == "-" and io.stdout or assert(io.open(opt.out, "w"))
out:setvbuf("full", 1 << 20)
local fmt = string.format
local minute = opt.freq == "minute"
out:write(minute and "Datetime" or "Date", ",Open,High,Low,Close,Volume\n")

-- Per-bar volatility: ~1.5% a day, scaled down for minutes.
local vol = minute and 0.0007 or 0.015
local drift = minute and 0.0 or 0.0002
local price = opt.price * 1.0
local revert = opt.revert * 1.0
local close_c = math.floor(price * 100 + 0.5)
local day = days_from_civil(tonumber(y0), tonumber(m0), tonumber(d0))
local minute_of_day = 0
local date_str
local row = ",%d.%02d,%d.%02d,%d.%02d,%d.%02d,%d\n"
local row_minute = "%s %02d:%02d:00" .. row
for _ = 1, math.tointeger(opt.bars) do
  local hh, mm
  if minute then
    if not date_str then date_str = fmt("%04d-%02d-%02d", civil_from_days(day)) end
    hh, mm = minute_of_day // 60, minute_of_day % 60
    minute_of_day = minute_of_day + 1
    if minute_of_day == 1440 then minute_of_day, day = 0, day + 1 end
  else
    while (day + 3) % 7 >= 5 do day = day + 1 end -- 1970-01-01 was a Thursday
    date_str = fmt("%04d-%02d-%02d", civil_from_days(day))
    day = day + 1
  end
  -- Prices are walked as doubles but written and bounded in whole cents, so the
  -- OHLC relations hold exactly in the file.
  local open_c = close_c + math.floor(price * vol * 0.3 * gauss() * 100 + 0.5)
  price = price * (1.0 + drift + vol * gauss() - revert * (price / opt.price - 1.0))
  if price < 1.0 then price = 1.0 end
  close_c = math.floor(price * 100 + 0.5)
  if open_c < 100 then open_c = 100 end
  local hi = (open_c > close_c and open_c or close_c) + math.floor(next_u53() * price * vol * 50)
  local lo = (open_c < close_c and open_c or close_c) - math.floor(next_u53() * price * vol * 50)
  if lo < 1 then lo = 1 end
  local volume = 1000 + math.floor(next_u53() * (minute and 5000 or 1000000))
  if minute then
    out:write(fmt(row_minute, date_str, hh, mm, open_c // 100, open_c % 100, hi // 100, hi % 100,
      lo // 100, lo % 100, close_c // 100, close_c % 100, volume))
    if minute_of_day == 0 then date_str = nil end
  else
    out:write(date_str, fmt(row, open_c // 100, open_c % 100, hi // 100, hi % 100, lo // 100,
      lo % 100, close_c // 100, close_c % 100, volume))
  end
end
if out ~= io.stdout then out:close() else out:flush() end
