-- formats/lib.lua - helpers shared by the format scripts: escaping, number display and
-- self-contained inline SVG charts (no scripts, no network).
local M = {}

function M.esc(s)
  s = tostring(s == nil and "" or s)
  return (s:gsub("[&<>\"']", {["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                              ['"'] = "&quot;", ["'"] = "&#39;"}))
end

-- Markdown table cells must not contain pipes or newlines.
function M.md(s)
  s = tostring(s == nil and "" or s)
  return (s:gsub("|", "\\|"):gsub("\n", " "))
end

-- The summary's zone for people: "UTC-05:00" for a fixed offset, else the IANA name.
function M.zone(tz)
  if tz:match("^[+-]") then return "UTC" .. tz end
  return tz
end

function M.pct(x)
  if x == nil then return "n/a" end
  return string.format("%.2f%%", x * 100)
end

function M.num(x, digits)
  if x == nil then return "n/a" end
  return string.format("%." .. (digits or 4) .. "f", x)
end

-- Money stays the exact decimal string it came as; nil shows as n/a.
function M.money(s)
  if s == nil then return "n/a" end
  return tostring(s)
end

function M.streak(cs)
  if not cs or cs.kind == "none" or cs.length == 0 then return "none" end
  return string.format("%d %s%s", cs.length, cs.kind, cs.length == 1 and "" or (cs.kind == "loss" and "es" or "s"))
end

local function bounds(values)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(values) do
    if v < lo then lo = v end
    if v > hi then hi = v end
  end
  if lo == math.huge then lo, hi = 0, 1 end
  if lo == hi then lo, hi = lo - 1, hi + 1 end
  return lo, hi
end

local function label(v)
  if v == 0 then v = 0 end -- no "-0"
  return string.format("%.6g", v)
end

local function frame(w, h, title, lo, hi, body)
  local out = {}
  out[#out + 1] = string.format(
    '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">',
    w, h, w, h, M.esc(title))
  out[#out + 1] = string.format('<rect x="0" y="0" width="%d" height="%d" fill="#fff" stroke="#ddd"/>', w, h)
  out[#out + 1] = string.format('<text x="8" y="16" font-size="12" font-family="sans-serif" fill="#333">%s</text>', M.esc(title))
  out[#out + 1] = string.format('<text x="%d" y="30" font-size="10" font-family="sans-serif" fill="#777" text-anchor="end">%s</text>', w - 6, M.esc(label(hi)))
  out[#out + 1] = string.format('<text x="%d" y="%d" font-size="10" font-family="sans-serif" fill="#777" text-anchor="end">%s</text>', w - 6, h - 6, M.esc(label(lo)))
  out[#out + 1] = body
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n")
end

-- Polyline of numeric values. opts: width, height, title, color, zero (draw y=0 line).
function M.line_chart(values, opts)
  opts = opts or {}
  local w, h = opts.width or 720, opts.height or 200
  local pad_top, pad_bottom, pad_x = 36, 14, 10
  local lo, hi = bounds(values)
  if opts.lo then lo = math.min(lo, opts.lo) end
  if opts.hi then hi = math.max(hi, opts.hi) end
  local n = #values
  local pts = {}
  for i, v in ipairs(values) do
    local x = pad_x + (n > 1 and (i - 1) / (n - 1) or 0.5) * (w - 2 * pad_x - 40)
    local y = pad_top + (hi - v) / (hi - lo) * (h - pad_top - pad_bottom)
    pts[#pts + 1] = string.format("%.1f,%.1f", x, y)
  end
  local body = {}
  if opts.zero and lo < 0 and hi > 0 then
    local y = pad_top + hi / (hi - lo) * (h - pad_top - pad_bottom)
    body[#body + 1] = string.format('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#bbb" stroke-dasharray="4 3"/>', pad_x, y, w - pad_x - 40, y)
  end
  if n > 0 then
    body[#body + 1] = string.format('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>',
      opts.color or "#1f77b4", table.concat(pts, " "))
  else
    body[#body + 1] = string.format('<text x="%d" y="%d" font-size="12" font-family="sans-serif" fill="#999" text-anchor="middle">no data</text>', w // 2, h // 2)
  end
  return frame(w, h, opts.title or "", lo, hi, table.concat(body, "\n"))
end

-- Bars around zero (green up, red down).
function M.bar_chart(values, opts)
  opts = opts or {}
  local w, h = opts.width or 720, opts.height or 200
  local pad_top, pad_bottom, pad_x = 36, 14, 10
  local lo, hi = bounds(values)
  lo, hi = math.min(lo, 0), math.max(hi, 0)
  local n = #values
  local span = w - 2 * pad_x - 40
  local bw = n > 0 and span / n or span
  local function y_of(v) return pad_top + (hi - v) / (hi - lo) * (h - pad_top - pad_bottom) end
  local y0 = y_of(0)
  local body = {}
  for i, v in ipairs(values) do
    local y = y_of(v)
    body[#body + 1] = string.format('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>',
      pad_x + (i - 1) * bw, math.min(y, y0), math.max(bw * 0.8, 0.5), math.abs(y0 - y),
      v >= 0 and "#2ca02c" or "#d62728")
  end
  body[#body + 1] = string.format('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999"/>', pad_x, y0, w - pad_x - 40, y0)
  return frame(w, h, opts.title or "", lo, hi, table.concat(body, "\n"))
end

-- JSON text of a Lua value for embedding in a page (the numbers a test compares): keys
-- sorted, numbers with 17 significant digits (round-trip), NaN/inf as null, a table with
-- [1] as an array (`M.array` marks an empty one). Inside <script> "</" is escaped.
local ARRAY = setmetatable({}, {__mode = "k"})
function M.array(t) ARRAY[t] = true; return t end
function M.json(v)
  local ty = type(v)
  if v == nil then return "null" end
  if ty == "boolean" then return tostring(v) end
  if ty == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return string.format("%.17g", v)
  end
  if ty == "string" then
    return '"' .. v:gsub('[%c"\\/]', function(c)
      local map = {['"'] = '\\"', ["\\"] = "\\\\", ["/"] = "\\/", ["\n"] = "\\n", ["\t"] = "\\t"}
      return map[c] or string.format("\\u%04x", c:byte())
    end) .. '"'
  end
  local parts = {}
  if v[1] ~= nil or ARRAY[v] then
    for i = 1, #v do parts[i] = M.json(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = M.json(k) .. ":" .. M.json(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

M.css = [[
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;font-size:13px}
th{background:#f5f5f5}.breach{color:#b00020;font-weight:bold}.ok{color:#2e7d32}.skipped{color:#777}
.note{color:#666;font-size:12px}.partial{background:#fff3cd;padding:6px 10px;border:1px solid #e0c36c}
svg{display:block;margin:8px 0}
]]

return M
