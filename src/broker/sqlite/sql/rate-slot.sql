-- rate-slot.sql: books the next start of a global rate limit shared by every worker on this file. A caller gets
-- the later of now and the booked next start, and books the one after it; answers how long it must wait (ms).
INSERT INTO rate_slots (key, next) VALUES (:key, :now + :spacing)
ON CONFLICT (key) DO UPDATE SET next = max(next, :now) + :spacing
RETURNING next - :spacing - :now AS wait;
