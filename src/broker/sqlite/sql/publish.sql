-- publish: inserts one message; ready now, or 'delayed' when not_before is in the future.
-- Params: :queue, :priority (0..9), :not_before (epoch ms or null), :now, :redelivered (0/1), :headers,
--         :properties (JSON text), :body (bytes), :content_type, :content_encoding.
-- Returns nothing. Run once per message inside one transaction per batch.
INSERT INTO messages
  (queue, priority, not_before, state, redelivered, headers, properties, body, content_type, content_encoding,
   created_at)
VALUES
  (:queue, :priority, :not_before,
   CASE WHEN :not_before > :now THEN 'delayed' ELSE 'ready' END,
   :redelivered, :headers, :properties, :body, :content_type, :content_encoding, :now);
