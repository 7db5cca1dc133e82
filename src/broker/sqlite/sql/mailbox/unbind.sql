-- unbind: removes a direct queue's binding (first, so a send can never land in it again; queue-clear.sql follows).
DELETE FROM mailbox_bindings WHERE queue = :queue;
