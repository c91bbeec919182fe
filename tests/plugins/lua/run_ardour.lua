-- Runs an Ardour EditorAction script against the fake bindings, the way
-- Ardour does: load the file, call factory(params), call what it returns.
-- usage: lua5.4 run_ardour.lua SCENARIO.lua SCRIPT.lua RESULT.json
local here = arg[0]:match("^(.*)[/\\]") or "."
package.path = here .. "/?.lua;" .. package.path

local lib = require("testlib")
local fake = require("fake_ardour")

local scenario = dofile(arg[1])
local script, result_path = arg[2], arg[3]

local env, report = fake.new(scenario)
local handle = assert(io.open(script, "rb"))
local text = handle:read("a")
handle:close()

local script_error
local chunk, load_error = load(text, "@" .. script, "t", env)
if not chunk then
  script_error = load_error
else
  local ok, err = pcall(chunk)
  if not ok then
    script_error = err
  elseif type(env.factory) ~= "function" then
    script_error = "the script defines no factory function"
  else
    local action = env.factory(nil)
    ok, err = pcall(action)
    if not ok then
      script_error = err
    end
  end
end

local result = report()
result.script_error = script_error and tostring(script_error) or nil
lib.write_file(result_path, lib.json(result))
