DROP TABLE record_links;
