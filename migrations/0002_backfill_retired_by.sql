-- Custom migration (data, which drizzle cannot express): say why the items retired before retired_by existed are
-- retired. SID-table loads moved the rows they retired off the SID space ('retired:<id>'); DELETE kept the SID.
UPDATE `items` SET `retired_by` = CASE WHEN `sid` LIKE 'retired:%' THEN 'catalog' ELSE 'delete' END WHERE `status` = 'retired';
