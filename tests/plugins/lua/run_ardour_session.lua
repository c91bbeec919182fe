-- Runs the deecho editor action in real Ardour: ardour7-lua (luasession), a new
-- session on the Dummy backend, a region recorded from its white-noise input.
--
-- luasession has Ardour's session bindings (ARDOUR, Temporal, C, Session) but
-- no editor: Editor, LuaDialog, Editing and the `ardour { }` descriptor belong
-- to the GUI. Those four are stood in for here; every value the script reads
-- from the region, and every value it hands to Editor:do_import, is Ardour's own.
--
-- usage: ardour7-lua run_ardour_session.lua SCRIPT.lua SESSION_DIR RESULT.json
local script, session_dir, result_path = arg[1], arg[2], arg[3]
local RATE = 48000

local function json(value)
	local kind = type(value)
	if kind == "table" then
		local parts = {}
		if #value > 0 or next(value) == nil then
			for _, item in ipairs(value) do
				parts[#parts + 1] = json(item)
			end
			return "[" .. table.concat(parts, ",") .. "]"
		end
		for key, item in pairs(value) do
			parts[#parts + 1] = json(tostring(key)) .. ":" .. json(item)
		end
		return "{" .. table.concat(parts, ",") .. "}"
	elseif kind == "string" then
		return '"' .. value:gsub('[%c"\\]', function(c)
			return string.format("\\u%04x", c:byte())
		end) .. '"'
	elseif kind == "nil" then
		return "null"
	end
	return tostring(value)
end

local function fail(message)
	local handle = assert(io.open(result_path, "w"))
	handle:write(json({ host_error = message }))
	handle:close()
	os.exit(1)
end

-- the session, and a take recorded into it
assert(AudioEngine:set_backend("None (Dummy)", "", ""), "no Dummy backend")
AudioEngine:set_device_name("Uniform White Noise") -- what its inputs "hear"
if not create_session(session_dir, "deecho", RATE) then
	fail("create_session failed")
end
local tracks = Session:new_audio_track(
	1, 2, nil, 1, "Vocal", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true
)
local track = tracks:front()
track:rec_enable_control():set_value(1, PBD.GroupControlDisposition.NoGroup)
Session:maybe_enable_record(false)
Session:request_roll(ARDOUR.TransportRequestSource.TRS_UI)
sleep(2)
Session:request_stop(false, false, ARDOUR.TransportRequestSource.TRS_UI)
sleep(1) -- the butler writes the take and makes its region
local recorded = {}
for region in track:playlist():region_list():iter() do
	recorded[#recorded + 1] = region
end
if #recorded ~= 1 then
	fail(string.format("expected one recorded region, found %d", #recorded))
end
local region = recorded[1]
-- a region that starts 0.5 s into its file and sits at 2 s on the timeline
region:trim_front(Temporal.timepos_t(RATE // 2))
region:set_position(Temporal.timepos_t(2 * RATE))

local seen = {
	region = {
		name = region:name(),
		position_samples = region:position():samples(),
		start_samples = region:start():samples(),
		length_samples = region:length():samples(),
		channels = region:to_audioregion():n_channels(),
		file = region:source(0):to_filesource():path(),
	},
	imports = {},
	messages = {},
}

-- the GUI's part
function ardour(descriptor)
	seen.descriptor = { type = descriptor["type"], name = descriptor.name }
end
Editing = { -- gtk2_ardour/editing.h (ImportDisposition, ImportMode)
	ImportDistinctFiles = 0, ImportMergeFiles = 1, ImportSerializeFiles = 2, ImportDistinctChannels = 3,
	ImportAsTrack = 0, ImportToTrack = 1, ImportAsRegion = 2,
}
LuaDialog = {
	MessageType = { Info = 0, Warning = 1, Question = 2, Error = 3 },
	ButtonType = { OK = 0, Close = 1, Cancel = 2, Yes_No = 3, OK_Cancel = 4 },
	Message = function(title, text)
		return { run = function() seen.messages[#seen.messages + 1] = text end }
	end,
}
local selection = {
	regions = {
		regionlist = function()
			return track:playlist():region_list() -- Ardour's own RegionList
		end,
	},
}
Editor = {
	get_selection = function()
		return selection
	end,
	do_import = function(_, files, disposition, mode, quality, name_source, tempo, position, instrument, into, markers)
		local paths = {}
		for path in files:iter() do
			paths[#paths + 1] = path
		end
		seen.imports[#seen.imports + 1] = {
			files = paths,
			disposition = disposition,
			mode = mode,
			-- each must be what Ardour's own enums and constructors made
			src_best = quality == ARDOUR.SrcQuality.SrcBest,
			track_name_from_file = name_source == ARDOUR.MidiTrackNameSource.SMFTrackName,
			tempo_ignored = tempo == ARDOUR.MidiTempoMapDisposition.SMFTempoIgnore,
			position_samples = position:samples(),
			no_instrument = instrument:isnil(),
			no_target_track = into:isnil(),
			with_markers = markers,
		}
	end,
}

local handle = assert(io.open(script, "rb"))
local text = handle:read("a")
handle:close()
local chunk, load_error = load(text, "@" .. script, "t", _ENV)
if not chunk then
	fail(load_error)
end
local ok, err = pcall(chunk)
if ok then
	ok, err = pcall(factory(nil))
end
seen.script_error = not ok and tostring(err) or nil

Session:save_state("")
handle = assert(io.open(result_path, "w"))
handle:write(json(seen))
handle:close()
