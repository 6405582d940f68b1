-- A delivery is written three times: inserted queued, marked delivering when
-- its attempt starts, and finished. None of those writes changes an indexed
-- column, so with free space on the page each later version is a HOT update:
-- it lands beside the old one, no index gets a new entry, and page pruning
-- reclaims the old version without vacuum. At the default fillfactor (100)
-- the pages are full at insert, and each of the two updates wrote a new entry
-- into every one of the table's seven indexes.
alter table deliveries set (fillfactor = 50);
