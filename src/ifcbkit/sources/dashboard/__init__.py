"""An IFCB dashboard (ifcbdb) as a bin source: its listing, products and HTTP client."""
