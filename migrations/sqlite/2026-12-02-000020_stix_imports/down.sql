DROP TABLE stix_imports;
