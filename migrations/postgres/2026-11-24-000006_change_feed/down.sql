DROP TABLE changes;
DROP TABLE feed_head;
