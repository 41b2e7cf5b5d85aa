-- Argo CD health check for tradewarden.io/TradingBot.
-- Register it in argocd-cm as resource.customizations.health.tradewarden.io_TradingBot
-- (see argocd/argocd-cm-patch.yaml, which embeds this same text).
--
-- Progressing: no status yet, the bot is being deleted (the drain runs), the
--   operator has not observed the latest spec generation, or the bot is
--   starting (Pending, Preflight).
-- Degraded: Aborted, Failed, Degraded, a Ready, BotHealthy, InSync or Protected
--   condition that is False, and every restriction a guard imposed (Paused or
--   ReduceOnly for a reason no person gave, Running in a mode other than Active).
-- Suspended: only what a person asked for: spec.paused, spec.emergencyStop, or a
--   fleet-wide TradingHalt (the Ready or flip reason TradingHalt; its
--   condition alone does not make a guard's restriction Suspended).
-- Healthy: Running, Active, every condition True, the latest generation observed.
local PERSON_REASONS = { Paused = true, EmergencyStop = true, TradingHalt = true }
local CHECKED_CONDITIONS = { "Ready", "BotHealthy", "InSync", "Protected" }

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(reason, message)
  local text = reason or "no reason given"
  if message ~= nil and message ~= "" then
    text = text .. ": " .. message
  end
  return text
end

local function by_person(reason)
  if reason == nil then
    return false
  end
  return PERSON_REASONS[reason] or string.find(reason, "TradingHalt", 1, true) ~= nil
end

local function health(obj)
  local status = obj.status
  if status == nil or status.phase == nil then
    return "Progressing", "waiting for the operator to write status"
  end
  local phase = status.phase
  local mode = status.tradingMode or "unknown mode"
  if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
    return "Progressing", "being deleted: the operator drains the bot before its children go (" .. phase .. ", " .. mode .. ")"
  end
  local generation = obj.metadata ~= nil and obj.metadata.generation or nil
  local observed = status.observedGeneration
  if generation ~= nil and (observed == nil or observed < generation) then
    return "Progressing", "the operator has not yet acted on spec generation " .. generation .. " (status is for generation " .. tostring(observed or "none") .. ")"
  end
  local ready = condition(status, "Ready")
  local reason = nil
  local message = nil
  if ready ~= nil then
    reason, message = ready.reason, ready.message
  elseif status.lastFlip ~= nil then
    reason = status.lastFlip.reason
  end
  if phase == "Aborted" then
    if status.abort ~= nil then
      reason, message = status.abort.reason, status.abort.message
    end
    return "Degraded", "Aborted: " .. describe(reason, message)
  end
  if phase == "Failed" or phase == "Degraded" then
    return "Degraded", phase .. ": " .. describe(reason, message)
  end
  if phase == "Pending" or phase == "Preflight" then
    return "Progressing", phase .. ": " .. describe(reason, message)
  end
  if phase ~= "Running" and phase ~= "Paused" and phase ~= "ReduceOnly" then
    return "Unknown", "phase " .. phase .. " is not one this health check knows"
  end
  local person = phase ~= "Running" and by_person(reason)
  if phase ~= "Running" and not person then
    return "Degraded", phase .. " imposed by a guard, " .. mode .. ": " .. describe(reason, message)
  end
  for _, kind in ipairs(CHECKED_CONDITIONS) do
    local c = condition(status, kind)
    if c ~= nil and c.status == "False" and not (kind == "Ready" and person) then
      return "Degraded", phase .. ", " .. kind .. " is False: " .. describe(c.reason, c.message)
    end
  end
  if person then
    return "Suspended", phase .. " by a person, " .. mode .. ": " .. describe(reason, message)
  end
  if mode ~= "Active" then
    return "Degraded", "Running but trading mode is " .. mode .. " without a person asking for it"
  end
  return "Healthy", "Running, Active"
end

local hs = {}
hs.status, hs.message = health(obj)
return hs
