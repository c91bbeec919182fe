-- Runs a REAPER action script against the fake API and writes what it did as JSON.
-- usage: lua5.4 run_reaper.lua SCENARIO.lua SCRIPT.lua RESULT.json
local here = arg[0]:match("^(.*)[/\\]") or "."
package.path = here .. "/?.lua;" .. package.path

local lib = require("testlib")
local fake = require("fake_reaper")

local scenario = dofile(arg[1])
local script, result_path = arg[2], arg[3]

scenario.script = script
local api, snapshot = fake.new(scenario)
reaper = api -- REAPER scripts see the API as the global `reaper`

local ok, err = pcall(dofile, script)
local result = snapshot()
result.script_error = not ok and tostring(err) or nil
lib.write_file(result_path, lib.json(result))
