--[[
mailbox-send.lua: delivers a control reply the way kombu's Redis transport publishes to a direct exchange (look up the
exchange's bindings, LPUSH to every queue bound with the reply's routing key), in one atomic step. Atomic so that
a requester that has stopped listening (kombu SREMs its binding, then DELs its lists) never finds a reply left
behind in a list nobody reads; kombu would push such a reply to its dead-letter list `ae.undeliver` instead,
where it stays forever. Priority 0, so the bare list name.

KEYS[1]  _kombu.binding.<reply exchange>   set of "<routing_key>\x06\x16<pattern>\x06\x16<queue>"
ARGV[1]  routing key (the requester's oid)
ARGV[2]  the reply envelope
ARGV[3]  global key prefix ('' by default), prepended to each queue name
ARGV[4]  kombu's separator, "\x06\x16"

Returns how many queues received the reply (0: nobody is listening).
]]
local sep = ARGV[4]
local n = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local first = string.find(member, sep, 1, true)
  if first then
    local rkey = string.sub(member, 1, first - 1)
    local second = string.find(member, sep, first + #sep, true)
    if rkey == ARGV[1] and second then
      local queue = string.sub(member, second + #sep)
      redis.call('LPUSH', ARGV[3] .. queue, ARGV[2])
      n = n + 1
    end
  end
end
return n
