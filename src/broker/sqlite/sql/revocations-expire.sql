-- revocations-expire: forgets revocations older than :before (epoch ms), as Celery forgets revoked ids after 3 hours.
DELETE FROM revocations WHERE created_at < :before;
