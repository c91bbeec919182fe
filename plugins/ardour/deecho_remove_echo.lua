ardour {
	["type"] = "EditorAction",
	name = "deecho: Remove Echo",
	license = "MIT",
	author = "deecho",
	description = [[Runs deecho on each selected audio region and imports the de-echoed audio as a new track at the region's position. The original regions are left untouched. Needs the deecho command (see README.md).]],
}

-- Ardour 7 or later (positions are Temporal.timepos_t). Ardour's Lua sandbox
-- removes dofile, so this file carries everything it needs.
function factory(params)
	return function()
		local TITLE = "deecho: Remove Echo"

		local function show(text, kind)
			LuaDialog.Message(TITLE, text, kind or LuaDialog.MessageType.Error, LuaDialog.ButtonType.Close):run()
		end

		-- "Sandbox all Lua scripts" sets os = nil and io = nil: no way to start deecho.
		if type(os) ~= "table" or type(io) ~= "table" or type(io.popen) ~= "function" then
			show(
				"Ardour's Lua sandbox has removed os/io, so this script cannot run deecho.\n\n"
					.. "Untick Edit > Preferences > Scripting > \"Sandbox all Lua scripts\" "
					.. "(or set <Option name=\"sandbox-all-lua-scripts\" value=\"0\"/> in ui_config), "
					.. "restart Ardour and run the action again."
			)
			return
		end

		local WINDOWS = (os.getenv("OS") or ""):match("Windows") ~= nil
		local DIR_SEP = WINDOWS and "\\" or "/"

		local EXIT_MEANING = {
			[64] = "deecho was called with arguments it does not accept (please report this)",
			[65] = "the audio could not be decoded",
			[66] = "the source file is missing or unreadable",
			[69] = "the processing backend failed",
			[70] = "deecho hit an internal error",
			[73] = "the output file could not be created",
			[127] = "the deecho command was not found",
		}

		local function join(dir, name)
			if dir:sub(-1) == "/" or dir:sub(-1) == "\\" then
				return dir .. name
			end
			return dir .. DIR_SEP .. name
		end

		local function exists(path)
			local handle = io.open(path, "rb")
			if handle then
				handle:close()
				return true
			end
			return false
		end

		-- Ardour started from a desktop launcher may not have the user's PATH.
		local function find_deecho()
			local from_env = os.getenv("DEECHO_BIN")
			if from_env and from_env ~= "" then
				return from_env
			end
			local dirs = {}
			for dir in (os.getenv("PATH") or ""):gmatch(WINDOWS and "[^;]+" or "[^:]+") do
				dirs[#dirs + 1] = dir
			end
			local home = os.getenv("HOME") or os.getenv("USERPROFILE")
			if home then
				dirs[#dirs + 1] = join(home, ".local" .. DIR_SEP .. "bin")
			end
			dirs[#dirs + 1] = "/opt/homebrew/bin"
			dirs[#dirs + 1] = "/usr/local/bin"
			for _, dir in ipairs(dirs) do
				for _, name in ipairs(WINDOWS and { "deecho.exe", "deecho.cmd" } or { "deecho" }) do
					local path = join(dir, name)
					if exists(path) then
						return path
					end
				end
			end
			return nil
		end

		local function shell_quote(text)
			if WINDOWS then
				return '"' .. text:gsub('"', '\\"') .. '"'
			end
			return "'" .. text:gsub("'", "'\\''") .. "'"
		end

		-- Just enough JSON to read the one object `deecho process --json` prints.
		local function json_decode(text)
			local pos = 1
			local function skip()
				pos = text:find("[^ \t\r\n]", pos) or #text + 1
			end
			local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
			local value
			local function string_value()
				local parts = {}
				pos = pos + 1
				while true do
					local c = text:sub(pos, pos)
					if c == "" then
						error("unterminated string", 0)
					elseif c == '"' then
						pos = pos + 1
						return table.concat(parts)
					elseif c == "\\" then
						local e = text:sub(pos + 1, pos + 1)
						if e == "u" then
							local code = tonumber(text:sub(pos + 2, pos + 5), 16) or error("bad \\u escape", 0)
							pos = pos + 6
							if code >= 0xD800 and code <= 0xDBFF and text:sub(pos, pos + 1) == "\\u" then
								local low = tonumber(text:sub(pos + 2, pos + 5), 16)
								if low and low >= 0xDC00 and low <= 0xDFFF then
									code = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00)
									pos = pos + 6
								end
							end
							parts[#parts + 1] = utf8.char(code)
						else
							parts[#parts + 1] = escapes[e] or error("bad escape", 0)
							pos = pos + 2
						end
					else
						local stop = text:find('["\\]', pos) or #text + 1
						parts[#parts + 1] = text:sub(pos, stop - 1)
						pos = stop
					end
				end
			end
			function value()
				skip()
				local c = text:sub(pos, pos)
				if c == "{" or c == "[" then
					local result, close = {}, c == "{" and "}" or "]"
					pos = pos + 1
					skip()
					if text:sub(pos, pos) == close then
						pos = pos + 1
						return result
					end
					while true do
						if close == "}" then
							skip()
							if text:sub(pos, pos) ~= '"' then
								error("expected a key", 0)
							end
							local key = string_value()
							skip()
							if text:sub(pos, pos) ~= ":" then
								error("expected ':'", 0)
							end
							pos = pos + 1
							result[key] = value()
						else
							result[#result + 1] = value()
						end
						skip()
						local sep = text:sub(pos, pos)
						pos = pos + 1
						if sep == close then
							return result
						elseif sep ~= "," then
							error("expected ',' or '" .. close .. "'", 0)
						end
					end
				elseif c == '"' then
					return string_value()
				end
				for _, literal in ipairs({ { "true", true }, { "false", false }, { "null", nil } }) do
					local word = literal[1]
					if text:sub(pos, pos + #word - 1) == word then
						pos = pos + #word
						return literal[2]
					end
				end
				local number = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
				if number and tonumber(number) then
					pos = pos + #number
					return tonumber(number)
				end
				error("unexpected character at " .. pos, 0)
			end
			local result = value()
			skip()
			if pos <= #text then
				error("trailing text after JSON", 0)
			end
			return result
		end

		local function temp_path(name)
			local dir = WINDOWS and (os.getenv("TEMP") or ".") or (os.getenv("TMPDIR") or "/tmp")
			return join(dir, name)
		end

		local function last_line(text)
			local line
			for each in text:gmatch("[^\r\n]+") do
				line = each
			end
			return line
		end

		-- Runs deecho process; returns the decoded result or nil and a reason.
		local function run_deecho(deecho, args)
			local words = { shell_quote(deecho) }
			for _, arg in ipairs(args) do
				words[#words + 1] = shell_quote(arg)
			end
			local log = temp_path(string.format("deecho-ardour-%d-%04d.log", os.time(), math.random(0, 9999)))
			local command = table.concat(words, " ") .. " 2>" .. shell_quote(log)
			if WINDOWS then
				command = '"' .. command .. '"' -- cmd.exe strips one pair of outer quotes
			end
			local pipe = io.popen(command, "r")
			if not pipe then
				return nil, "could not start " .. deecho
			end
			local output = pipe:read("a") or ""
			local _, _, status = pipe:close()
			local handle = io.open(log, "rb")
			local errors = handle and handle:read("a") or ""
			if handle then
				handle:close()
			end
			os.remove(log)
			if status ~= 0 then
				local said = last_line(errors)
				return nil, said or EXIT_MEANING[status] or ("exit status " .. tostring(status))
			end
			local ok, result = pcall(json_decode, output)
			if not ok or type(result) ~= "table" or type(result.output) ~= "string" then
				return nil, "deecho did not print its JSON result"
			end
			return result
		end

		local function stem_of(path)
			local name = path:match("([^/\\]+)$") or path
			return name:match("^(.*)%.[^.]*$") or name
		end

		local function free_output_path(base)
			local path = temp_path(base .. ".wav")
			local n = 2
			while exists(path) do
				path = temp_path(string.format("%s-%d.wav", base, n))
				n = n + 1
			end
			return path
		end

		-- The files behind an audio region: one per channel, or one
		-- multichannel file shared by all channels (embedded files).
		local function region_files(region)
			local files, seen = {}, {}
			for channel = 0, region:n_channels() - 1 do
				local source = region:source(channel):to_filesource()
				if source:isnil() then
					return nil, "its audio is not in a file"
				end
				local path = source:path()
				if not seen[path] then
					seen[path] = true
					files[#files + 1] = path
				end
			end
			return files
		end

		-- Region times count samples at the session's rate. (Ardour 7.3's timepos_t
		-- has samples() but no superclocks() in Lua, as a run in ardour7-lua showed.)
		local RATE = Session:nominal_sample_rate()

		local function process_region(region, deecho)
			local audio = region:to_audioregion()
			if audio:isnil() then
				return nil, "it is not an audio region"
			end
			local files, why = region_files(audio)
			if not files then
				return nil, why
			end
			-- seconds within the source file
			local start = region:start():samples() / RATE
			local stop = start + region:length():samples() / RATE
			local outputs = C.StringVector()
			for _, file in ipairs(files) do
				local base = string.format("%s.no_echo.%.3f-%.3fs", stem_of(file), start, stop)
				local result, reason = run_deecho(deecho, {
					"process", file,
					"-o", free_output_path(base),
					"--start", string.format("%.6f", start),
					"--end", string.format("%.6f", stop),
					"--json",
				})
				if not result then
					return nil, reason
				end
				outputs:push_back(result.output)
			end
			-- One mono file per channel is merged back into one multichannel track.
			local disposition = outputs:size() > 1 and Editing.ImportMergeFiles or Editing.ImportDistinctFiles
			local position = region:position()
			Editor:do_import(
				outputs,
				disposition,
				Editing.ImportAsTrack,
				ARDOUR.SrcQuality.SrcBest,
				ARDOUR.MidiTrackNameSource.SMFTrackName,
				ARDOUR.MidiTempoMapDisposition.SMFTempoIgnore,
				position,
				ARDOUR.PluginInfo(),
				ARDOUR.Track(),
				false
			)
			return true
		end

		local regions = {}
		for region in Editor:get_selection().regions:regionlist():iter() do
			regions[#regions + 1] = region
		end
		if #regions == 0 then
			show("Select one or more audio regions first.", LuaDialog.MessageType.Info)
			return
		end
		local deecho = find_deecho()
		if not deecho then
			show(
				"The deecho command was not found on PATH.\n\n"
					.. "Install it (for example `pipx install deecho`), or start Ardour with "
					.. "DEECHO_BIN set to the full path of deecho."
			)
			return
		end

		local failures = {}
		for _, region in ipairs(regions) do
			local ok, done, why = pcall(process_region, region, deecho)
			if not (ok and done) then
				failures[#failures + 1] = region:name() .. ": " .. tostring(ok and why or done)
			end
		end
		if #failures > 0 then
			show(string.format(
				"%d of %d region(s) were not processed:\n\n%s",
				#failures,
				#regions,
				table.concat(failures, "\n")
			))
		end
	end
end
