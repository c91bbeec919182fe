-- A fake of the slice of REAPER's ReaScript API the deecho actions use.
--
-- Every function here exists in the real API (names and argument lists from
-- the ReaScript documentation). Anything else the script touches fails
-- loudly: an unknown `reaper.X`, a wrong argument type, an unknown
-- parameter name (REAPER itself silently returns 0 for those), unbalanced
-- undo blocks or UI-refresh counts, peaks built out of order.
local lib = require("testlib")

local M = {}

local ITEM_PARMS = {
  B_MUTE = true, B_LOOPSRC = true, B_ALLTAKESPLAY = true, B_UISEL = true, C_LOCK = true,
  D_VOL = true, D_POSITION = true, D_LENGTH = true, D_SNAPOFFSET = true,
  D_FADEINLEN = true, D_FADEOUTLEN = true, I_CURTAKE = true, IP_ITEMNUMBER = true,
}
local TAKE_PARMS = {
  D_STARTOFFS = true, D_VOL = true, D_PAN = true, D_PANLAW = true, D_PLAYRATE = true,
  D_PITCH = true, B_PPITCH = true, I_CHANMODE = true, I_PITCHMODE = true,
  I_CUSTOMCOLOR = true, IP_TAKENUMBER = true,
}
local TAKE_STRING_PARMS = { P_NAME = true, GUID = true }

function M.new(scenario)
  local state = {
    violations = {},
    message_boxes = lib.array(),
    console = {},
    exec_calls = lib.array(),
    user_input_calls = lib.array(),
    undo_blocks = lib.array(),
    undo_depth = 0,
    refresh_depth = 0,
    ext_state = scenario.ext_state or {},
    persisted = {},
    items = {},
    sources = {},
  }
  local answers = scenario.user_inputs or {}

  local function violation(message)
    state.violations[#state.violations + 1] = message
    error("fake REAPER: " .. message, 3)
  end

  local function object(kind, fields)
    fields.__kind = kind
    return fields
  end

  local function expect(fname, index, kind, value)
    local ok
    if kind == "number" or kind == "string" or kind == "boolean" then
      ok = type(value) == kind
    elseif kind == "integer" then
      ok = math.type(value) == "integer" or (type(value) == "number" and value == math.floor(value))
    elseif kind == "proj" then
      ok = value == 0 or value == nil
    else
      ok = type(value) == "table" and value.__kind == kind and not value.destroyed
    end
    if not ok then
      violation(string.format("%s: argument %d must be a %s, got %s", fname, index, kind, tostring(value)))
    end
  end

  local function signature(fname, kinds, ...)
    local n = select("#", ...)
    if n ~= #kinds then
      violation(string.format("%s takes %d arguments, got %d", fname, #kinds, n))
    end
    for i, kind in ipairs(kinds) do
      expect(fname, i, kind, (select(i, ...)))
    end
  end

  local function new_file_source(path)
    local info = lib.wav_info(path)
    if not info then
      return nil
    end
    local source = object("PCM_source", { type = "WAVE", file = path, length = info.duration_s, info = info })
    state.sources[#state.sources + 1] = source
    return source
  end

  local function new_take(item, spec)
    local source = assert(new_file_source(spec.file), "scenario file missing: " .. spec.file)
    if spec.section then
      source = object("PCM_source", {
        type = "SECTION",
        parent = source,
        offset = spec.section.offset,
        length = spec.section.length,
        reversed = spec.section.reversed or false,
      })
    end
    local take = object("MediaItem_Take", {
      item = item,
      source = source,
      name = spec.name or "",
      values = {
        D_STARTOFFS = spec.startoffs or 0.0, D_PLAYRATE = spec.playrate or 1.0, D_PITCH = 0.0,
        B_PPITCH = 1.0, I_CHANMODE = 0, D_VOL = spec.vol or 1.0, D_PAN = 0.0, D_PANLAW = -1.0,
        I_PITCHMODE = -1, I_CUSTOMCOLOR = 0,
      },
      midi = spec.midi or false,
    })
    return take
  end

  for _, spec in ipairs(scenario.items or {}) do
    local item = object("MediaItem", {
      selected = spec.selected ~= false,
      takes = {},
      values = { D_POSITION = spec.position or 0.0, D_LENGTH = spec.length, B_LOOPSRC = 0, D_VOL = 1.0 },
    })
    for _, take_spec in ipairs(spec.takes) do
      item.takes[#item.takes + 1] = new_take(item, take_spec)
    end
    item.active = spec.active or 1
    state.items[#state.items + 1] = item
  end

  local function selected_items()
    local list = {}
    for _, item in ipairs(state.items) do
      if item.selected then
        list[#list + 1] = item
      end
    end
    return list
  end

  local api = {}

  function api.GetOS(...)
    signature("GetOS", {}, ...)
    return scenario.os or "Linux-x86_64"
  end

  function api.get_action_context(...)
    signature("get_action_context", {}, ...)
    -- is_new_value, filename_with_path, sectionID, cmdID, mode, resolution, val, contextstr
    return false, scenario.script, 0, 55555, -1, -1, -1, ""
  end

  function api.CountSelectedMediaItems(...)
    signature("CountSelectedMediaItems", { "proj" }, ...)
    return #selected_items()
  end

  function api.GetSelectedMediaItem(...)
    signature("GetSelectedMediaItem", { "proj", "integer" }, ...)
    local _, index = ...
    return selected_items()[index + 1]
  end

  function api.GetActiveTake(...)
    signature("GetActiveTake", { "MediaItem" }, ...)
    local item = ...
    return item.takes[item.active]
  end

  function api.TakeIsMIDI(...)
    signature("TakeIsMIDI", { "MediaItem_Take" }, ...)
    return (...).midi
  end

  function api.GetTakeName(...)
    signature("GetTakeName", { "MediaItem_Take" }, ...)
    return (...).name
  end

  function api.GetMediaItemTake_Source(...)
    signature("GetMediaItemTake_Source", { "MediaItem_Take" }, ...)
    return (...).source
  end

  function api.GetMediaSourceParent(...)
    signature("GetMediaSourceParent", { "PCM_source" }, ...)
    return (...).parent
  end

  function api.PCM_Source_GetSectionInfo(...)
    signature("PCM_Source_GetSectionInfo", { "PCM_source" }, ...)
    local source = ...
    if source.type == "SECTION" then
      return true, source.offset, source.length, source.reversed
    end
    return false, 0.0, source.length, false
  end

  function api.GetMediaSourceFileName(...)
    signature("GetMediaSourceFileName", { "PCM_source" }, ...)
    return (...).file or ""
  end

  function api.GetMediaSourceLength(...)
    signature("GetMediaSourceLength", { "PCM_source" }, ...)
    local source = ...
    return source.length, false
  end

  function api.GetMediaItemInfo_Value(...)
    signature("GetMediaItemInfo_Value", { "MediaItem", "string" }, ...)
    local item, parm = ...
    if not ITEM_PARMS[parm] then
      violation("GetMediaItemInfo_Value: unknown item parameter " .. parm)
    end
    return item.values[parm] or 0.0
  end

  function api.GetMediaItemTakeInfo_Value(...)
    signature("GetMediaItemTakeInfo_Value", { "MediaItem_Take", "string" }, ...)
    local take, parm = ...
    if not TAKE_PARMS[parm] then
      violation("GetMediaItemTakeInfo_Value: unknown take parameter " .. parm)
    end
    return take.values[parm] or 0.0
  end

  function api.SetMediaItemTakeInfo_Value(...)
    signature("SetMediaItemTakeInfo_Value", { "MediaItem_Take", "string", "number" }, ...)
    local take, parm, value = ...
    if not TAKE_PARMS[parm] or parm:sub(1, 3) == "IP_" then
      violation("SetMediaItemTakeInfo_Value: unknown or read-only take parameter " .. parm)
    end
    take.values[parm] = value
    return true
  end

  function api.GetSetMediaItemTakeInfo_String(...)
    signature("GetSetMediaItemTakeInfo_String", { "MediaItem_Take", "string", "string", "boolean" }, ...)
    local take, parm, value, set = ...
    if not TAKE_STRING_PARMS[parm] then
      violation("GetSetMediaItemTakeInfo_String: unknown take parameter " .. parm)
    end
    if parm == "P_NAME" then
      if set then
        take.name = value
      end
      return true, take.name
    end
    return true, "{00000000-0000-0000-0000-000000000000}"
  end

  function api.GetProjectPath(...)
    signature("GetProjectPath", {}, ...)
    return scenario.project_path or ""
  end

  function api.file_exists(...)
    signature("file_exists", { "string" }, ...)
    return lib.file_exists((...))
  end

  function api.GetExtState(...)
    signature("GetExtState", { "string", "string" }, ...)
    local section, key = ...
    return state.ext_state[section .. "/" .. key] or ""
  end

  function api.SetExtState(...)
    signature("SetExtState", { "string", "string", "string", "boolean" }, ...)
    local section, key, value, persist = ...
    state.ext_state[section .. "/" .. key] = value
    state.persisted[section .. "/" .. key] = persist
  end

  function api.GetUserInputs(...)
    signature("GetUserInputs", { "string", "integer", "string", "string" }, ...)
    local title, count, captions = ...
    state.user_input_calls[#state.user_input_calls + 1] = { title = title, count = count, captions = captions }
    local answer = table.remove(answers, 1)
    if answer == nil then
      return false, ""
    end
    return true, answer
  end

  function api.ShowMessageBox(...)
    signature("ShowMessageBox", { "string", "string", "integer" }, ...)
    local message, title = ...
    state.message_boxes[#state.message_boxes + 1] = { title = title, message = message }
    return 1
  end

  function api.ShowConsoleMsg(...)
    signature("ShowConsoleMsg", { "string" }, ...)
    state.console[#state.console + 1] = (...)
  end

  -- REAPER splits the command line itself (double quotes group words) and
  -- starts the program without a shell; PATH is not searched.
  local function split_command_line(line)
    local argv, pos = {}, 1
    while pos <= #line do
      local c = line:sub(pos, pos)
      if c == " " then
        pos = pos + 1
      elseif c == '"' then
        local close = line:find('"', pos + 1, true)
        if not close then
          violation("ExecProcess: unbalanced double quote in " .. line)
        end
        argv[#argv + 1] = line:sub(pos + 1, close - 1)
        pos = close + 1
      else
        local stop = line:find(" ", pos, true) or #line + 1
        argv[#argv + 1] = line:sub(pos, stop - 1)
        pos = stop
      end
    end
    return argv
  end

  function api.ExecProcess(...)
    signature("ExecProcess", { "string", "integer" }, ...)
    local line, timeout = ...
    local argv = split_command_line(line)
    local call = { command_line = line, argv = lib.array(argv), timeout = timeout }
    state.exec_calls[#state.exec_calls + 1] = call
    if not argv[1] or not argv[1]:find("/", 1, true) or not lib.file_exists(argv[1]) then
      call.status = "not started"
      return nil -- "returns NULL on total failure"
    end
    local status, output = lib.run(argv, scenario.merge_stderr)
    call.status = status
    if timeout < 0 then
      return "" -- no wait: nothing to report
    end
    return tostring(status) .. "\n" .. output
  end

  function api.PCM_Source_CreateFromFile(...)
    signature("PCM_Source_CreateFromFile", { "string" }, ...)
    return new_file_source((...))
  end

  function api.AddTakeToMediaItem(...)
    signature("AddTakeToMediaItem", { "MediaItem" }, ...)
    local item = ...
    if state.undo_depth == 0 then
      violation("AddTakeToMediaItem outside an undo block")
    end
    local take = object("MediaItem_Take", {
      item = item,
      source = object("PCM_source", { type = "EMPTY", length = 0.0 }),
      name = "",
      values = { D_STARTOFFS = 0.0, D_PLAYRATE = 1.0, D_PITCH = 0.0, B_PPITCH = 0.0, I_CHANMODE = 0, D_VOL = 1.0 },
      midi = false,
    })
    item.takes[#item.takes + 1] = take
    return take
  end

  function api.SetMediaItemTake_Source(...)
    signature("SetMediaItemTake_Source", { "MediaItem_Take", "PCM_source" }, ...)
    local take, source = ...
    for _, item in ipairs(state.items) do
      for _, other in ipairs(item.takes) do
        if other.source == source then
          -- the documented behaviour: a source already in the project is duplicated
          source = object("PCM_source", { type = source.type, file = source.file, length = source.length })
        end
      end
    end
    take.source = source
    return true
  end

  function api.SetActiveTake(...)
    signature("SetActiveTake", { "MediaItem_Take" }, ...)
    local take = ...
    for i, other in ipairs(take.item.takes) do
      if other == take then
        take.item.active = i
      end
    end
  end

  function api.PCM_Source_BuildPeaks(...)
    signature("PCM_Source_BuildPeaks", { "PCM_source", "integer" }, ...)
    local source, mode = ...
    if mode == 0 then
      source.peaks = "started"
      source.peaks_left = 2
      return 100
    elseif mode == 1 then
      if source.peaks ~= "started" then
        violation("PCM_Source_BuildPeaks(src, 1) before mode 0")
      end
      source.peaks_left = source.peaks_left - 1
      return source.peaks_left > 0 and 50 or 0
    elseif mode == 2 then
      if source.peaks ~= "started" or source.peaks_left > 0 then
        violation("PCM_Source_BuildPeaks(src, 2) before mode 1 returned 0")
      end
      source.peaks = "built"
      return 0
    end
    violation("PCM_Source_BuildPeaks: mode must be 0, 1 or 2")
  end

  function api.Undo_BeginBlock(...)
    signature("Undo_BeginBlock", {}, ...)
    state.undo_depth = state.undo_depth + 1
  end

  function api.Undo_EndBlock(...)
    signature("Undo_EndBlock", { "string", "integer" }, ...)
    if state.undo_depth == 0 then
      violation("Undo_EndBlock without Undo_BeginBlock")
    end
    state.undo_depth = state.undo_depth - 1
    state.undo_blocks[#state.undo_blocks + 1] = (...)
  end

  function api.PreventUIRefresh(...)
    signature("PreventUIRefresh", { "integer" }, ...)
    state.refresh_depth = state.refresh_depth + (...)
  end

  function api.UpdateArrange(...)
    signature("UpdateArrange", {}, ...)
  end

  local reaper = setmetatable({}, {
    __index = function(_, name)
      local fn = api[name]
      if fn == nil then
        violation("reaper." .. tostring(name) .. " is not in REAPER's API (or not in this fake)")
      end
      return fn
    end,
    __newindex = function(_, name)
      violation("the script assigned reaper." .. tostring(name))
    end,
  })

  local function snapshot()
    local items = lib.array()
    for _, item in ipairs(state.items) do
      local takes = lib.array()
      for i, take in ipairs(item.takes) do
        local source = take.source
        local file_source = source
        while file_source.parent do
          file_source = file_source.parent
        end
        takes[#takes + 1] = {
          name = take.name,
          active = i == item.active,
          file = file_source.file,
          source_type = source.type,
          source_length = file_source.length,
          peaks = file_source.peaks or "none",
          startoffs = take.values.D_STARTOFFS,
          playrate = take.values.D_PLAYRATE,
          pitch = take.values.D_PITCH,
          preserve_pitch = take.values.B_PPITCH,
          volume = take.values.D_VOL,
        }
      end
      items[#items + 1] = { length = item.values.D_LENGTH, position = item.values.D_POSITION, takes = takes }
    end
    return {
      items = items,
      violations = lib.array(state.violations),
      message_boxes = state.message_boxes,
      exec_calls = state.exec_calls,
      user_input_calls = state.user_input_calls,
      undo_blocks = state.undo_blocks,
      undo_depth = state.undo_depth,
      refresh_depth = state.refresh_depth,
      ext_state = state.ext_state,
    }
  end

  return reaper, snapshot
end

return M
