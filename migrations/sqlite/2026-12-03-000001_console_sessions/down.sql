DROP TABLE console_feed_positions;
DROP TABLE console_sessions;
