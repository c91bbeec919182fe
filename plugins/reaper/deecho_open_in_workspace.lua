-- @description deecho: open the selected item's source in the deecho workspace
-- @version 0.1.0
-- @author deecho
-- @about
--   Opens the source file of the first selected item's active take in
--   `deecho tui`, in a terminal window. REAPER is not blocked while the
--   workspace is open. Needs the `deecho` command (see README.md).

local r = reaper

local TITLE = "deecho: open in workspace"

local here = select(2, r.get_action_context()):match("^(.*)[/\\]") or "."
local lib = dofile(here .. "/deecho_lib.lua")

local function sh_quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

-- cmd.exe expands %VAR% even inside quotes; doubling % keeps paths literal.
local function cmd_quote(text)
  return '"' .. text:gsub("%%", "%%%%") .. '"'
end

local function temp_dir()
  if lib.platform == "windows" then
    return os.getenv("TEMP") or os.getenv("TMP") or "."
  end
  return os.getenv("TMPDIR") or "/tmp"
end

-- A small launcher script avoids quoting a command line inside another one:
-- the terminal only ever receives the launcher's path.
local function write_launcher(deecho, file)
  local stamp = string.format("%d-%04d", os.time(), math.random(0, 9999))
  local path, text
  if lib.platform == "windows" then
    path = lib.join(temp_dir(), "deecho-open-" .. stamp .. ".cmd")
    text = table.concat({
      "@echo off",
      cmd_quote(deecho) .. " tui " .. cmd_quote(file),
      "if errorlevel 1 pause",
      "",
    }, "\r\n")
  else
    path = lib.join(temp_dir(), "deecho-open-" .. stamp .. (lib.platform == "mac" and ".command" or ".sh"))
    text = table.concat({
      "#!/bin/sh",
      "# Written by the deecho REAPER action; safe to delete.",
      sh_quote(deecho) .. " tui " .. sh_quote(file),
      "status=$?",
      'if [ "$status" -ne 0 ]; then printf "\\ndeecho exited with status %s; press Enter to close." "$status"; read _; fi',
      "",
    }, "\n")
  end
  local handle, err = io.open(path, "wb")
  if not handle then
    return nil, "could not write " .. path .. ": " .. tostring(err)
  end
  handle:write(text)
  handle:close()
  return path
end

-- Terminal programs tried on Linux, with the flag that makes them run a command.
local LINUX_TERMINALS = {
  { "x-terminal-emulator", "-e" },
  { "gnome-terminal", "--" },
  { "konsole", "-e" },
  { "xfce4-terminal", "-x" },
  { "alacritty", "-e" },
  { "kitty" },
  { "xterm", "-e" },
}

local function find_on_path(name)
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    local path = lib.join(dir, name)
    if r.file_exists(path) then
      return path
    end
  end
  return nil
end

-- The command line (REAPER quoting) that runs the launcher in a new terminal.
local function terminal_command(launcher)
  local custom = r.GetExtState(lib.EXT_SECTION, "terminal")
  if lib.platform == "windows" then
    return 'cmd.exe /c start "deecho" ' .. lib.quote(launcher)
  elseif lib.platform == "mac" and custom == "" then
    -- `open` needs the launcher to be executable
    r.ExecProcess("/bin/chmod +x " .. lib.quote(launcher), 5000)
    return "/usr/bin/open -a Terminal " .. lib.quote(launcher)
  end
  if custom ~= "" then
    -- the user's own prefix, e.g. "/usr/bin/foot" or "/usr/bin/xterm" "-e"
    return custom .. " " .. lib.quote("/bin/sh") .. " " .. lib.quote(launcher)
  end
  for _, candidate in ipairs(LINUX_TERMINALS) do
    local program = find_on_path(candidate[1])
    if program then
      local parts = { lib.quote(program) }
      if candidate[2] then
        parts[#parts + 1] = lib.quote(candidate[2])
      end
      parts[#parts + 1] = lib.quote("/bin/sh")
      parts[#parts + 1] = lib.quote(launcher)
      return table.concat(parts, " ")
    end
  end
  return nil
end

local function source_file(item)
  local take = r.GetActiveTake(item)
  if not take or r.TakeIsMIDI(take) then
    return nil
  end
  local source = r.GetMediaItemTake_Source(take)
  -- section and reversed sources wrap the file source
  local parent = r.GetMediaSourceParent(source)
  while parent do
    source = parent
    parent = r.GetMediaSourceParent(source)
  end
  local file = r.GetMediaSourceFileName(source)
  return file ~= "" and file or nil
end

local function main()
  if r.CountSelectedMediaItems(0) == 0 then
    r.ShowMessageBox("Select an audio item first.", TITLE, 0)
    return
  end
  local file = source_file(r.GetSelectedMediaItem(0, 0))
  if not file then
    r.ShowMessageBox("The selected item has no audio file behind its active take.", TITLE, 0)
    return
  end
  local deecho = lib.find_deecho_or_explain(TITLE)
  if not deecho then
    return
  end
  local launcher, err = write_launcher(deecho, file)
  if not launcher then
    r.ShowMessageBox(err, TITLE, 0)
    return
  end
  local command = terminal_command(launcher)
  if not command then
    r.ShowMessageBox(
      "No terminal program was found to open the workspace in.\n\n"
        .. 'Set one in the ExtState "deecho/terminal" (see README.md), or run:\n\n'
        .. "deecho tui " .. file,
      TITLE,
      0
    )
    return
  end
  -- -1: start it and return at once; the workspace lives in its own window.
  -- (What ExecProcess returns without waiting is not documented, so it is not checked.)
  r.ExecProcess(command, -1)
end

main()
