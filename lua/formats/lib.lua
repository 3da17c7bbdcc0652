-- formats/lib.lua - helpers shared by the format scripts: escaping, number display and
-- JSON for embedding (charts and page styles are in formats/charts.lua).
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

-- JSON text of a Lua value for embedding in a page (the numbers a test compares): keys
-- sorted, numbers with 17 significant digits (round-trip), NaN/inf as null, a table with
-- [1] as an array (`M.array` marks an empty one). Inside <script> "</" is escaped.
local ARRAY = setmetatable({}, {__mode = "k"})
function M.array(t) ARRAY[t] = true; return t end
-- A JSON text written elsewhere (C, in lib.json's own format), embedded as it is.
local RAW = setmetatable({}, {__mode = "k"})
function M.raw(text) local t = {text}; RAW[t] = true; return t end
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
  if RAW[v] then return v[1] end
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

return M
