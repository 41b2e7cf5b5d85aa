-- Argo CD health check for tradewarden.io/TradingBot.
-- Register it in argocd-cm as resource.customizations.health.tradewarden.io_TradingBot
-- (see argocd/argocd-cm-patch.yaml, which embeds this same text).
local hs = {}
local phase = nil
local reason = nil
if obj.status ~= nil then
  phase = obj.status.phase
  if obj.status.lastFlip ~= nil then
    reason = obj.status.lastFlip.reason
  end
end
if phase == "Running" then
  hs.status = "Healthy"
elseif phase == "Paused" or phase == "ReduceOnly" then
  hs.status = "Suspended"
elseif phase == "Aborted" then
  hs.status = "Degraded"
  if obj.status.abort ~= nil then
    reason = obj.status.abort.reason
  end
elseif phase == "Degraded" or phase == "Failed" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
if phase == nil then
  hs.message = "waiting for the operator to write status"
elseif reason ~= nil then
  hs.message = phase .. ": " .. reason
else
  hs.message = phase
end
return hs
