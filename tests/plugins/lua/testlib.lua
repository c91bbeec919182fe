-- Helpers shared by the fake host APIs: JSON out, WAV headers in, running commands.
local M = {}

local function encode(value, out)
  local kind = type(value)
  if kind == "nil" then
    out[#out + 1] = "null"
  elseif kind == "boolean" then
    out[#out + 1] = tostring(value)
  elseif kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then
      out[#out + 1] = "null"
    elseif math.type(value) == "integer" then
      out[#out + 1] = string.format("%d", value)
    else
      out[#out + 1] = string.format("%.17g", value)
    end
  elseif kind == "string" then
    out[#out + 1] = '"'
      .. value:gsub('[%c"\\]', function(c)
        return string.format("\\u%04x", c:byte())
      end)
      .. '"'
  elseif kind == "table" then
    local n = #value
    local is_array = n > 0 or next(value) == nil and getmetatable(value) == M.array_mt
    if is_array then
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then
          out[#out + 1] = ","
        end
        encode(value[i], out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(value) do
        keys[#keys + 1] = tostring(k)
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then
          out[#out + 1] = ","
        end
        encode(k, out)
        out[#out + 1] = ":"
        encode(value[k], out)
      end
      out[#out + 1] = "}"
    end
  else
    out[#out + 1] = '"<' .. kind .. '>"'
  end
end

M.array_mt = {}

function M.array(t)
  return setmetatable(t or {}, M.array_mt)
end

function M.json(value)
  local out = {}
  encode(value, out)
  return table.concat(out)
end

function M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function M.file_exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

-- Reads a RIFF/WAVE header: sample rate, channels and duration in seconds.
function M.wav_info(path)
  local f = io.open(path, "rb")
  if not f then
    return nil, "cannot open " .. path
  end
  local data = f:read("a")
  f:close()
  if data:sub(1, 4) ~= "RIFF" or data:sub(9, 12) ~= "WAVE" then
    return nil, path .. " is not a WAV file"
  end
  local pos, channels, rate, block_align, data_bytes = 13, nil, nil, nil, nil
  while pos + 8 <= #data do
    local id = data:sub(pos, pos + 3)
    local size = string.unpack("<I4", data, pos + 4)
    if id == "fmt " then
      channels, rate = string.unpack("<I2I4", data, pos + 10)
      block_align = string.unpack("<I2", data, pos + 20)
    elseif id == "data" then
      data_bytes = math.min(size, #data - pos - 7)
    end
    pos = pos + 8 + size + (size % 2)
  end
  if not (channels and rate and block_align and data_bytes) then
    return nil, path .. " has no fmt or data chunk"
  end
  return { channels = channels, sample_rate = rate, duration_s = data_bytes / block_align / rate }
end

local function sh_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Runs argv without a shell's word splitting; returns exit status and output.
function M.run(argv, merge_stderr)
  local parts = {}
  for i, a in ipairs(argv) do
    parts[i] = sh_quote(a)
  end
  local command = table.concat(parts, " ") .. (merge_stderr and " 2>&1" or " 2>/dev/null")
  local pipe = assert(io.popen(command, "r"))
  local output = pipe:read("a")
  local _, how, code = pipe:close()
  if how == "signal" then
    code = 128 + code
  end
  return code, output
end

return M
