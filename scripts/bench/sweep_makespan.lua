-- sweep_makespan.lua W < lines "i loop_ms end_ms" (run i of a sweep, from one or more rounds)
-- Each run's median loop and end time over the rounds, and the time a sweep of these runs
-- takes on W workers that never wait for each other, as a share of the runs one after
-- another (the sum), for two schedules:
--   whole: each worker runs a run's loop and then its end (bt.sweep before the split);
--   split: sweep_sched.h's policy (start a run while fewer than W ends wait, and the
--          last run as soon as a worker is free; else end the oldest waiting run).
-- Prints "mean_loop_ms mean_end_ms whole split". Fed with each phase's thread CPU time,
-- it is the speed-up the work allows, whatever the machine's load (scripts/bench-sweep.sh).
local W = assert(tonumber(arg[1]), "usage: sweep_makespan.lua WORKERS")
local rounds = {}
for line in io.lines() do
  local i, l, e = line:match("^(%d+)%s+(%S+)%s+(%S+)")
  i = tonumber(i)
  rounds[i] = rounds[i] or { {}, {} }
  table.insert(rounds[i][1], tonumber(l))
  table.insert(rounds[i][2], tonumber(e))
end
local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end
local runs, total, loops = {}, 0, 0
for i = 1, #rounds do
  runs[i] = { median(rounds[i][1]), median(rounds[i][2]) }
  total, loops = total + runs[i][1] + runs[i][2], loops + runs[i][1]
end

local function whole()
  local free, makespan = {}, 0
  for w = 1, W do free[w] = 0 end
  for _, r in ipairs(runs) do
    table.sort(free)
    free[1] = free[1] + r[1] + r[2]
    makespan = math.max(makespan, free[1])
  end
  return makespan
end

local function split()
  -- each worker asks for a task when it is free; one whose loop ends queues that end first
  local events, queue, nextr, makespan = {}, {}, 1, 0
  for w = 1, W do events[w] = { at = 0, w = w } end
  while #events > 0 do
    table.sort(events, function(a, b) return a.at < b.at or (a.at == b.at and a.w < b.w) end)
    local ev = table.remove(events, 1)
    if ev.run then queue[#queue + 1] = ev.run end
    if nextr <= #runs and (#queue < W or (nextr == #runs and W > 1)) then
      local r = runs[nextr]
      nextr = nextr + 1
      events[#events + 1] = { at = ev.at + r[1], w = ev.w, run = r }
    elseif #queue > 0 then
      local r = table.remove(queue, 1)
      events[#events + 1] = { at = ev.at + r[2], w = ev.w }
      makespan = math.max(makespan, ev.at + r[2])
    end
  end
  return makespan
end

print(string.format("%.1f %.1f %.3f %.3f", loops / #runs, (total - loops) / #runs,
                    whole() / total, split() / total))
