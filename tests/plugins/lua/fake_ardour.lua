-- A fake of the slice of Ardour's Lua bindings (Ardour 7/8) the deecho editor
-- action uses, and of the environment Ardour runs action scripts in.
--
-- Class, method and constant names follow libs/ardour/luabindings.cc and
-- gtk2_ardour/luainstance.cc. Any other method, a call made with '.' where
-- LuaBridge needs ':', or an argument of the wrong class fails loudly and is
-- recorded as a violation.
local lib = require("testlib")

local M = {}

-- Ardour's fixed superclock rate (Temporal::superclock_ticks_per_second).
local SUPERCLOCK = 282240000

function M.new(scenario)
  local state = {
    violations = lib.array(),
    messages = lib.array(),
    imports = lib.array(),
    descriptor = nil,
  }
  local rate = scenario.sample_rate or 48000

  local function violation(message)
    state.violations[#state.violations + 1] = message
    error("fake Ardour: " .. message, 3)
  end

  -- A LuaBridge-like class: methods must be called with ':', unknown names
  -- fail, `data` members are plain fields (e.g. Selection.regions).
  local function class(name, methods, data)
    return function(fields)
      local instance = {}
      setmetatable(instance, {
        __name = name,
        __index = function(self, key)
          if data and data[key] then
            return fields[key]
          end
          local method = methods[key]
          if method == nil then
            violation(string.format("%s has no member '%s' in Ardour's Lua bindings (or in this fake)", name, tostring(key)))
          end
          return function(receiver, ...)
            if receiver ~= self then
              violation(string.format("%s:%s must be called with ':'", name, key))
            end
            return method(fields, ...)
          end
        end,
        __newindex = function(_, key)
          violation(string.format("the script assigned %s.%s", name, tostring(key)))
        end,
      })
      fields.__class = name
      fields.__self = instance
      return instance
    end
  end

  local function class_of(value)
    local mt = type(value) == "table" and getmetatable(value)
    return mt and mt.__name or type(value)
  end

  local function expect(fname, index, wanted, value)
    local got = class_of(value)
    if got ~= wanted then
      violation(string.format("%s: argument %d must be %s, got %s", fname, index, wanted, got))
    end
  end

  local timepos, timecnt
  -- Ardour 7.3 binds samples() but not superclocks() (checked in ardour7-lua).
  timepos = class("Temporal:timepos_t", {
    samples = function(f) return f.superclocks * rate // SUPERCLOCK end,
    is_zero = function(f) return f.superclocks == 0 end,
    str = function(f) return "a" .. f.superclocks end,
  })
  timecnt = class("Temporal:timecnt_t", {
    samples = function(f) return f.superclocks * rate // SUPERCLOCK end,
    is_zero = function(f) return f.superclocks == 0 end,
    str = function(f) return "a" .. f.superclocks end,
  })
  local function seconds_to_superclocks(seconds)
    return math.floor(seconds * SUPERCLOCK + 0.5)
  end

  local function nil_methods()
    return { isnil = function() return true end }
  end

  local file_source = class("ARDOUR:FileSource", {
    isnil = function() return false end,
    path = function(f) return f.path end,
    channel = function(f) return f.channel end,
    within_session = function() return false end,
  })
  local nil_file_source = class("ARDOUR:FileSource", nil_methods())
  local source = class("ARDOUR:Source", {
    isnil = function() return false end,
    to_filesource = function(f)
      if f.path then
        return file_source({ path = f.path, channel = f.channel })
      end
      return nil_file_source({})
    end,
    name = function(f) return f.path or "" end,
  })

  local region_methods -- shared by Region and AudioRegion (AudioRegion derives from Region)
  local audio_region
  local nil_audio_region = class("ARDOUR:AudioRegion", nil_methods())
  region_methods = {
    isnil = function() return false end,
    name = function(f) return f.spec.name end,
    position = function(f) return timepos({ superclocks = seconds_to_superclocks(f.spec.position_s) }) end,
    start = function(f) return timepos({ superclocks = seconds_to_superclocks(f.spec.start_s) }) end,
    length = function(f) return timecnt({ superclocks = seconds_to_superclocks(f.spec.length_s) }) end,
    source = function(f, n)
      if math.type(n) ~= "integer" then
        violation("Region:source: argument 1 must be an integer channel")
      end
      local channel_file = f.spec.files[n + 1]
      if f.spec.embedded then
        channel_file = f.spec.files[1]
      end
      return source({ path = channel_file, channel = n })
    end,
    to_audioregion = function(f)
      if f.spec.midi then
        return nil_audio_region({})
      end
      return audio_region(f)
    end,
  }
  local region = class("ARDOUR:Region", region_methods)
  local audio_methods = { n_channels = function(f) return f.spec.embedded and f.spec.channels or #f.spec.files end }
  for k, v in pairs(region_methods) do
    audio_methods[k] = v
  end
  audio_region = function(f)
    return class("ARDOUR:AudioRegion", audio_methods)({ spec = f.spec })
  end

  local function list_of(class_name, element_class)
    return class(class_name, {
      iter = function(f)
        local i = 0
        return function()
          i = i + 1
          return f.items[i]
        end
      end,
      size = function(f) return #f.items end,
      empty = function(f) return #f.items == 0 end,
      table = function(f) return f.items end,
    })
  end
  local region_list = list_of("ARDOUR:RegionList")
  local region_selection = class("ArdourUI:RegionSelection", {
    regionlist = function(f) return region_list({ items = f.regions }) end,
  })
  local selection = class("ArdourUI:Selection", {}, { regions = true })

  local selected = {}
  for _, spec in ipairs(scenario.regions or {}) do
    selected[#selected + 1] = region({ spec = spec })
  end

  local string_vector = class("C:StringVector", {
    push_back = function(f, value)
      if type(value) ~= "string" then
        violation("StringVector:push_back takes a string")
      end
      f.items[#f.items + 1] = value
    end,
    add = function(f, values)
      for _, v in ipairs(values) do
        f.items[#f.items + 1] = v
      end
    end,
    size = function(f) return #f.items end,
    empty = function(f) return #f.items == 0 end,
    at = function(f, i) return f.items[i + 1] end,
    clear = function(f) f.items = {} end,
    iter = function(f)
      local i = 0
      return function()
        i = i + 1
        return f.items[i]
      end
    end,
    table = function(f) return f.items end,
  })

  local Editing = {
    ImportDistinctFiles = 0, ImportMergeFiles = 1, ImportSerializeFiles = 2, ImportDistinctChannels = 3,
    ImportAsTrack = 0, ImportToTrack = 1, ImportAsRegion = 2,
  }
  local disposition_names = { [0] = "ImportDistinctFiles", "ImportMergeFiles", "ImportSerializeFiles", "ImportDistinctChannels" }
  local mode_names = { [0] = "ImportAsTrack", "ImportToTrack", "ImportAsRegion" }

  local plugin_info = class("ARDOUR:PluginInfo", { isnil = function(f) return true end })
  local track = class("ARDOUR:Track", { isnil = function() return true end })

  local ARDOUR = {
    SrcQuality = { SrcBest = 0, SrcGood = 1, SrcQuick = 2, SrcFast = 3, SrcFastest = 4 },
    MidiTrackNameSource = { SMFTrackNumber = 0, SMFTrackName = 1, SMFInstrumentName = 2 },
    MidiTempoMapDisposition = { SMFTempoIgnore = 0, SMFTempoUse = 1 },
    PluginInfo = function(...)
      if select("#", ...) ~= 0 then
        violation("ARDOUR.PluginInfo() takes no arguments")
      end
      return plugin_info({})
    end,
    Track = function(...)
      if select("#", ...) ~= 0 then
        violation("ARDOUR.Track() takes no arguments")
      end
      return track({})
    end,
  }

  local editor = class("ArdourUI:Editor", {
    get_selection = function()
      return selection({ regions = region_selection({ regions = selected }) })
    end,
    -- Ardour 7/8: do_import (StringVector, ImportDisposition, ImportMode, SrcQuality,
    --   MidiTrackNameSource, MidiTempoMapDisposition, timepos_t&, PluginInfoPtr, TrackPtr, bool)
    do_import = function(_, ...)
      local n = select("#", ...)
      if n ~= 10 then
        violation("Editor:do_import takes 10 arguments in Ardour 7/8, got " .. n)
      end
      local files, disposition, mode, quality, name_source, tempo, position, instrument, into, markers = ...
      expect("Editor:do_import", 1, "C:StringVector", files)
      if disposition_names[disposition] == nil then
        violation("Editor:do_import: argument 2 must be an Editing.Import*Files disposition")
      end
      if mode_names[mode] == nil then
        violation("Editor:do_import: argument 3 must be an Editing.ImportAs*/ImportTo* mode")
      end
      for i, value in ipairs({ quality, name_source, tempo }) do
        if math.type(value) ~= "integer" then
          violation("Editor:do_import: argument " .. (i + 3) .. " must be an ARDOUR enum value")
        end
      end
      expect("Editor:do_import", 7, "Temporal:timepos_t", position)
      expect("Editor:do_import", 8, "ARDOUR:PluginInfo", instrument)
      expect("Editor:do_import", 9, "ARDOUR:Track", into)
      if type(markers) ~= "boolean" then
        violation("Editor:do_import: argument 10 (with_markers) must be a boolean")
      end
      local imported = lib.array()
      for path in files:iter() do
        local info, err = lib.wav_info(path)
        imported[#imported + 1] = { path = path, info = info, error = err }
      end
      state.imports[#state.imports + 1] = {
        files = imported,
        disposition = disposition_names[disposition],
        mode = mode_names[mode],
        position_s = position:samples() / rate,
      }
    end,
  })

  local message = class("LuaDialog:Message", {
    run = function(f)
      state.messages[#state.messages + 1] = { title = f.title, text = f.text, kind = f.kind }
      return 0
    end,
  })
  local LuaDialog = {
    MessageType = { Info = 0, Warning = 1, Question = 2, Error = 3 },
    ButtonType = { OK = 0, Close = 1, Cancel = 2, Yes_No = 3, OK_Cancel = 4 },
    Message = function(title, text, kind, buttons)
      if type(title) ~= "string" or type(text) ~= "string" or math.type(kind) ~= "integer" or math.type(buttons) ~= "integer" then
        violation("LuaDialog.Message(title, text, MessageType, ButtonType) got wrong arguments")
      end
      local kinds = { [0] = "Info", "Warning", "Question", "Error" }
      return message({ title = title, text = text, kind = kinds[kind] })
    end,
  }

  -- The globals an EditorAction script sees, after Ardour's basic sandbox.
  local env = {}
  for k, v in pairs(_G) do
    env[k] = v
  end
  local os_copy = {}
  for k, v in pairs(os) do
    os_copy[k] = v
  end
  os_copy.exit, os_copy.setlocale = nil, nil
  env.os = os_copy
  for _, name in ipairs({ "loadfile", "dofile", "require", "package", "debug", "rawget", "rawset", "coroutine", "module" }) do
    env[name] = nil
  end
  if scenario.sandbox_all then -- Preferences > Scripting > "Sandbox all Lua scripts"
    env.os, env.io = nil, nil
  end
  env._G = env
  env.ardour = function(descriptor)
    state.descriptor = descriptor
  end
  env.Editor = editor({})
  env.Session = class("ARDOUR:Session", {
    nominal_sample_rate = function() return rate end,
  })({})
  env.Editing = Editing
  env.ARDOUR = ARDOUR
  env.LuaDialog = LuaDialog
  env.C = { StringVector = function() return string_vector({ items = {} }) end }
  env.Temporal = {
    -- a function in Ardour 7.3 (checked in ardour7-lua)
    superclock_ticks_per_second = function() return SUPERCLOCK end,
    ticks_per_beat = 1920,
    timepos_t = function(samples)
      return timepos({ superclocks = samples * SUPERCLOCK // rate })
    end,
  }

  local function report()
    return {
      violations = state.violations,
      messages = state.messages,
      imports = state.imports,
      descriptor = state.descriptor and {
        type = state.descriptor["type"],
        name = state.descriptor.name,
      },
    }
  end

  return env, report
end

return M
