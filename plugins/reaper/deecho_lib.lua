-- @noindex
-- Shared by the deecho REAPER actions: finding the deecho command, running it
-- through ExecProcess, and reading its JSON result. Keep it in the same
-- folder as the actions; they load it with dofile.

local r = reaper
local M = {}

M.EXT_SECTION = "deecho" -- REAPER ExtState section holding the user's settings
-- What `deecho` exit statuses mean (sysexits), in the user's words.
local EXIT_MEANING = {
  [64] = "deecho was called with arguments it does not accept (please report this)",
  [65] = "the audio could not be decoded",
  [66] = "the source file is missing or unreadable",
  [69] = "the processing backend failed",
  [70] = "deecho hit an internal error",
  [73] = "the output file could not be created",
}

---------------------------------------------------------------------------
-- Platform
---------------------------------------------------------------------------

local function platform()
  local name = r.GetOS()
  if name:match("^Win") then
    return "windows"
  elseif name:match("^OSX") or name:match("^macOS") then
    return "mac"
  end
  return "linux"
end

local PLATFORM = platform()
local DIR_SEP = PLATFORM == "windows" and "\\" or "/"

local function join(dir, name)
  if dir:sub(-1) == "/" or dir:sub(-1) == "\\" then
    return dir .. name
  end
  return dir .. DIR_SEP .. name
end

local function split_path(path)
  local dir, name = path:match("^(.*)[/\\]([^/\\]*)$")
  if not dir then
    return ".", path
  end
  if dir == "" then
    dir = "/"
  end
  return dir, name
end

local function stem_of(name)
  return name:match("^(.*)%.[^.]*$") or name
end

---------------------------------------------------------------------------
-- Finding deecho: REAPER does not search PATH for ExecProcess, so we do.
---------------------------------------------------------------------------

local function candidate_dirs()
  local dirs = {}
  local list_sep = PLATFORM == "windows" and ";" or ":"
  for dir in (os.getenv("PATH") or ""):gmatch("[^" .. list_sep .. "]+") do
    dirs[#dirs + 1] = dir
  end
  -- GUI apps on macOS (and some Linux launchers) start with a minimal PATH:
  -- also look where pipx, pip --user and Homebrew put console scripts.
  local home = os.getenv("HOME") or os.getenv("USERPROFILE")
  if home then
    dirs[#dirs + 1] = join(home, ".local" .. DIR_SEP .. "bin")
  end
  if PLATFORM ~= "windows" then
    dirs[#dirs + 1] = "/opt/homebrew/bin"
    dirs[#dirs + 1] = "/usr/local/bin"
  end
  return dirs
end

local function find_deecho()
  local saved = r.GetExtState(M.EXT_SECTION, "command")
  if saved ~= "" and r.file_exists(saved) then
    return saved
  end
  local from_env = os.getenv("DEECHO_BIN")
  if from_env and from_env ~= "" and r.file_exists(from_env) then
    return from_env
  end
  local names = PLATFORM == "windows" and { "deecho.exe", "deecho.cmd", "deecho.bat" } or { "deecho" }
  for _, dir in ipairs(candidate_dirs()) do
    for _, name in ipairs(names) do
      local path = join(dir, name)
      if r.file_exists(path) then
        return path
      end
    end
  end
  -- Not found: ask once, and remember the answer for the next runs.
  local ok, answer = r.GetUserInputs(
    "deecho not found",
    1,
    "Full path to the deecho command:,extrawidth=300",
    ""
  )
  if ok and answer ~= "" and r.file_exists(answer) then
    r.SetExtState(M.EXT_SECTION, "command", answer, true)
    return answer
  end
  return nil
end

---------------------------------------------------------------------------
-- Running deecho
---------------------------------------------------------------------------

-- ExecProcess takes one command line; arguments are wrapped in double quotes.
-- find_deecho, or a message box saying how to make it findable (then nil).
local function find_deecho_or_explain(title)
  local deecho = find_deecho()
  if not deecho then
    r.ShowMessageBox(
      "The deecho command was not found.\n\nInstall it (for example `pipx install deecho`) "
        .. "or run this action again and give the full path to deecho.",
      title,
      0
    )
  end
  return deecho
end

local function quote(arg)
  if arg:find('"', 1, true) then
    error("cannot pass a path containing a double quote to deecho: " .. arg, 0)
  end
  return '"' .. arg .. '"'
end

-- A tiny JSON reader: enough for the one object `deecho process --json` prints.
local function json_decode_at(text, pos)
  local function skip(p)
    return text:find("[^ \t\r\n]", p) or #text + 1
  end
  local parse_value
  local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
  local function parse_string(p)
    local parts = {}
    local i = p + 1
    while true do
      local c = text:sub(i, i)
      if c == "" then
        error("unterminated string", 0)
      elseif c == '"' then
        return table.concat(parts), i + 1
      elseif c == "\\" then
        local e = text:sub(i + 1, i + 1)
        if e == "u" then
          local code = tonumber(text:sub(i + 2, i + 5), 16)
          if not code then
            error("bad \\u escape", 0)
          end
          i = i + 6
          -- a surrogate pair encodes one code point above U+FFFF
          if code >= 0xD800 and code <= 0xDBFF and text:sub(i, i + 1) == "\\u" then
            local low = tonumber(text:sub(i + 2, i + 5), 16)
            if low and low >= 0xDC00 and low <= 0xDFFF then
              code = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00)
              i = i + 6
            end
          end
          parts[#parts + 1] = utf8.char(code)
        elseif escapes[e] then
          parts[#parts + 1] = escapes[e]
          i = i + 2
        else
          error("bad escape", 0)
        end
      else
        local j = text:find('["\\]', i) or #text + 1
        parts[#parts + 1] = text:sub(i, j - 1)
        i = j
      end
    end
  end
  function parse_value(p)
    p = skip(p)
    local c = text:sub(p, p)
    if c == "{" then
      local object = {}
      p = skip(p + 1)
      if text:sub(p, p) == "}" then
        return object, p + 1
      end
      while true do
        if text:sub(p, p) ~= '"' then
          error("expected a key", 0)
        end
        local key
        key, p = parse_string(p)
        p = skip(p)
        if text:sub(p, p) ~= ":" then
          error("expected ':'", 0)
        end
        object[key], p = parse_value(p + 1)
        p = skip(p)
        local sep = text:sub(p, p)
        if sep == "}" then
          return object, p + 1
        elseif sep ~= "," then
          error("expected ',' or '}'", 0)
        end
        p = skip(p + 1)
      end
    elseif c == "[" then
      local array = {}
      p = skip(p + 1)
      if text:sub(p, p) == "]" then
        return array, p + 1
      end
      while true do
        array[#array + 1], p = parse_value(p)
        p = skip(p)
        local sep = text:sub(p, p)
        if sep == "]" then
          return array, p + 1
        elseif sep ~= "," then
          error("expected ',' or ']'", 0)
        end
        p = p + 1
      end
    elseif c == '"' then
      return parse_string(p)
    elseif text:sub(p, p + 3) == "true" then
      return true, p + 4
    elseif text:sub(p, p + 4) == "false" then
      return false, p + 5
    elseif text:sub(p, p + 3) == "null" then
      return nil, p + 4
    end
    local number = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", p)
    if number and number ~= "" and tonumber(number) then
      return tonumber(number), p + #number
    end
    error("unexpected character at " .. p, 0)
  end
  return parse_value(pos)
end

-- The result object: the last line-initial '{' that parses and names an
-- output. Robust whether or not REAPER mixes deecho's stderr into the output.
local function find_result(output)
  local starts = {}
  local pos = 1
  while true do
    local s = output:find("{", pos, true)
    if not s then
      break
    end
    if s == 1 or output:sub(s - 1, s - 1) == "\n" then
      starts[#starts + 1] = s
    end
    pos = s + 1
  end
  for i = #starts, 1, -1 do
    local ok, value = pcall(json_decode_at, output, starts[i])
    if ok and type(value) == "table" and type(value.output) == "string" then
      return value
    end
  end
  return nil
end

local function last_deecho_message(output)
  local message
  for line in output:gmatch("[^\r\n]+") do
    if line:match("^deecho:") then
      message = line
    end
  end
  return message
end

-- Runs deecho; returns the decoded result, or nil, exit status, explanation.
local function run_deecho(deecho, args)
  local parts = { quote(deecho) }
  for _, arg in ipairs(args) do
    parts[#parts + 1] = quote(arg)
  end
  local reply = r.ExecProcess(table.concat(parts, " "), 0)
  if not reply then
    return nil, nil, "REAPER could not start " .. deecho
  end
  local status, output = reply:match("^(%-?%d+)\r?\n(.*)$")
  status = tonumber(status or reply:match("^(%-?%d+)%s*$"))
  output = output or ""
  if status ~= 0 then
    local why = last_deecho_message(output) or EXIT_MEANING[status] or ("exit status " .. tostring(status))
    return nil, status, why
  end
  local result = find_result(output)
  if not result then
    return nil, status, "deecho did not print its JSON result"
  end
  return result
end

M.platform = PLATFORM
M.join = join
M.split_path = split_path
M.stem_of = stem_of
M.find_deecho = find_deecho
M.find_deecho_or_explain = find_deecho_or_explain
M.quote = quote
M.json_decode_at = json_decode_at
M.find_result = find_result
M.run_deecho = run_deecho

return M
