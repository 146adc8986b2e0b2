"""RSS and Atom feeds that keep knowledge bases current: the feeds followed and the entries
read (records), reading a feed document (parse), and polling (poller)."""
