-- @description deecho: remove echo from selected items (adds a new take)
-- @version 0.1.0
-- @author deecho
-- @about
--   For each selected audio item, runs `deecho process` on the part of the
--   take's source file the item plays, and adds the result as a new, active
--   take of the same item. The original take is kept; one undo step covers
--   the whole run. Needs the `deecho` command (see README.md).

local r = reaper

local TITLE = "deecho: remove echo"

-- The shared helpers live beside this script.
local here = select(2, r.get_action_context()):match("^(.*)[/\\]") or "."
local lib = dofile(here .. "/deecho_lib.lua")
local EXT_SECTION = lib.EXT_SECTION
local join, split_path, stem_of = lib.join, lib.split_path, lib.stem_of

---------------------------------------------------------------------------
-- Items and takes
---------------------------------------------------------------------------

-- The file behind a take, and where the take's section starts in it.
-- Section and reversed sources ("Item properties > Section", "Reverse")
-- wrap the file source: walk up to the root, adding up section offsets.
local function file_source_of(take)
  local source = r.GetMediaItemTake_Source(take)
  local offset = 0
  local limit = nil
  local parent = r.GetMediaSourceParent(source)
  while parent do
    local ok, section_offset, section_length, reversed = r.PCM_Source_GetSectionInfo(source)
    if ok and reversed then
      return nil, "reversed takes are not supported; un-reverse the take first"
    end
    if ok then
      offset = offset + section_offset
      limit = limit and math.min(limit, section_length) or section_length
    end
    source = parent
    parent = r.GetMediaSourceParent(source)
  end
  return source, offset, limit
end

local function seconds_text(value)
  return string.format("%.6f", value)
end

local function free_output_path(dir, base)
  local path = join(dir, base .. ".wav")
  local n = 2
  while r.file_exists(path) do
    path = join(dir, string.format("%s-%d.wav", base, n))
    n = n + 1
  end
  return path
end

local function build_peaks(source)
  if r.PCM_Source_BuildPeaks(source, 0) ~= 0 then
    while r.PCM_Source_BuildPeaks(source, 1) ~= 0 do
    end
    r.PCM_Source_BuildPeaks(source, 2)
  end
end

local function add_take(item, old_take, path, lead_s)
  local source = r.PCM_Source_CreateFromFile(path)
  if not source then
    return nil, "REAPER could not open " .. path
  end
  local take = r.AddTakeToMediaItem(item)
  r.SetMediaItemTake_Source(take, source)
  -- The new file starts where the played section starts; keep the item's
  -- timing and pitch settings so the new take lines up with the old one.
  r.SetMediaItemTakeInfo_Value(take, "D_STARTOFFS", -lead_s)
  for _, parm in ipairs({ "D_PLAYRATE", "D_PITCH", "B_PPITCH", "I_CHANMODE", "D_VOL", "D_PAN" }) do
    r.SetMediaItemTakeInfo_Value(take, parm, r.GetMediaItemTakeInfo_Value(old_take, parm))
  end
  r.GetSetMediaItemTakeInfo_String(take, "P_NAME", r.GetTakeName(old_take) .. " (deecho)", true)
  r.SetActiveTake(take)
  -- SetMediaItemTake_Source may have duplicated the source: build peaks for the one in use.
  build_peaks(r.GetMediaItemTake_Source(take))
  return take
end

local function process_item(item, deecho)
  local take = r.GetActiveTake(item)
  if not take then
    return nil, "the item has no take"
  end
  if r.TakeIsMIDI(take) then
    return nil, "it is a MIDI take"
  end
  local source, section_offset, section_length = file_source_of(take)
  if not source then
    return nil, section_offset
  end
  local input = r.GetMediaSourceFileName(source)
  if input == "" then
    return nil, "its source has no file on disk"
  end
  local start_offset = r.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
  local playrate = r.GetMediaItemTakeInfo_Value(take, "D_PLAYRATE")
  local item_length = r.GetMediaItemInfo_Value(item, "D_LENGTH")
  local source_length = r.GetMediaSourceLength(source)

  -- Source seconds the item plays: the item length scaled by the play rate.
  local start = section_offset + start_offset
  local stop = start + item_length * playrate
  local lead = 0
  if start < 0 then -- the item starts before the file does
    lead = -start
    start = 0
  end
  if section_length then
    stop = math.min(stop, section_offset + section_length)
  end
  stop = math.min(stop, source_length) -- a looped item: one pass of the file
  if stop - start <= 0 then
    return nil, "the item plays no part of its source file"
  end

  local dir, name = split_path(input)
  local base = string.format("%s.no_echo.%.3f-%.3fs", stem_of(name), start, stop)
  local project_dir = r.GetProjectPath()
  local dirs = { dir }
  if project_dir ~= "" and project_dir ~= dir then
    dirs[#dirs + 1] = project_dir -- fallback when the source folder is read-only
  end
  local result, status, why
  for _, out_dir in ipairs(dirs) do
    local output = free_output_path(out_dir, base)
    local args = { "process", input, "-o", output, "--start", seconds_text(start), "--end", seconds_text(stop), "--json" }
    local strength = r.GetExtState(EXT_SECTION, "strength")
    if tonumber(strength) then
      args[#args + 1] = "--strength"
      args[#args + 1] = strength
    end
    result, status, why = lib.run_deecho(deecho, args)
    if result or status ~= 73 then
      break
    end
  end
  if not result then
    return nil, why
  end
  local new_take, err = add_take(item, take, result.output, lead)
  if not new_take then
    return nil, err
  end
  return result
end

local function item_label(item, index)
  local take = r.GetActiveTake(item)
  local name = take and r.GetTakeName(take) or ""
  if name == "" then
    name = "item " .. index
  end
  return name
end

local function main()
  local count = r.CountSelectedMediaItems(0)
  if count == 0 then
    r.ShowMessageBox("Select one or more audio items first.", TITLE, 0)
    return
  end
  local deecho = lib.find_deecho_or_explain(TITLE)
  if not deecho then
    return
  end
  local items = {}
  for i = 0, count - 1 do
    items[#items + 1] = r.GetSelectedMediaItem(0, i)
  end

  r.Undo_BeginBlock()
  r.PreventUIRefresh(1)
  local done, failures = 0, {}
  for index, item in ipairs(items) do
    local label = item_label(item, index)
    -- pcall: whatever happens to one item, the undo block is closed below.
    local ok, result, why = pcall(process_item, item, deecho)
    if ok and result then
      done = done + 1
    else
      failures[#failures + 1] = label .. ": " .. tostring(ok and why or result)
    end
  end
  r.PreventUIRefresh(-1)
  r.UpdateArrange()
  r.Undo_EndBlock(string.format("deecho: remove echo (%d item%s)", done, done == 1 and "" or "s"), -1)

  if #failures > 0 then
    r.ShowMessageBox(
      string.format("%d of %d item(s) were not processed:\n\n%s", #failures, #items, table.concat(failures, "\n")),
      TITLE,
      0
    )
  end
end

main()
