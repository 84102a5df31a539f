-- Identity is immutable, names are not: users and groups get internal ids, and
-- the user ids and group ids people type become names bound to them (see
-- tracker-api/src/replication/README.md).
-- Table shapes from `prisma migrate diff --from-schema-datamodel <previous schema> --to-schema-datamodel prisma/schema.prisma --script`;
-- the INSERTs and UPDATEs below convert the rows of earlier versions instead of dropping them.
-- Internal ids of existing users and groups are derived from their old ids
-- ("u=" / "g=" + old id: `=` is in no name, nor in ids made from now on, "u:" / "g:" + random),
-- so two trackers converting the same data agree, and events logged before
-- the conversion are read the same way (events.ts, upgradeEvent).

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_User" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "passwordHash" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL
);
INSERT INTO "new_User" ("createdAt", "id", "name", "passwordHash") SELECT "createdAt", 'u=' || "id", "id", "passwordHash" FROM "User";
DROP TABLE "User";
ALTER TABLE "new_User" RENAME TO "User";
CREATE UNIQUE INDEX "User_name_key" ON "User"("name");
CREATE TABLE "new_Group" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "ownerId" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL
);
INSERT INTO "new_Group" ("createdAt", "id", "name", "ownerId") SELECT "createdAt", 'g=' || "id", "id", 'u=' || "ownerId" FROM "Group";
DROP TABLE "Group";
ALTER TABLE "new_Group" RENAME TO "Group";
CREATE UNIQUE INDEX "Group_name_key" ON "Group"("name");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- Rows that refer to users and groups.
UPDATE "Session" SET "userId" = 'u=' || "userId";
UPDATE "Membership" SET "groupId" = 'g=' || "groupId", "userId" = 'u=' || "userId";
UPDATE "JoinRequest" SET "groupId" = 'g=' || "groupId", "userId" = 'u=' || "userId";
UPDATE "SharedFile" SET "groupId" = 'g=' || "groupId";
UPDATE "Holding" SET "groupId" = 'g=' || "groupId", "userId" = 'u=' || "userId";

-- Registers: keys, and the user ids inside their values.
UPDATE "Register" SET "groupId" = 'g=' || "groupId" WHERE "groupId" <> '';
UPDATE "Register" SET "userId" = 'u=' || "userId" WHERE "userId" <> '';
UPDATE "Register" SET "value" = json_set("value", '$.ownerId', 'u=' || json_extract("value", '$.ownerId'))
  WHERE "kind" IN ('owner', 'group') AND json_extract("value", '$.ownerId') <> '';
UPDATE "Register" SET "value" = json_set("value", '$.creations', (
    SELECT json_group_array(json(json_set(c."value", '$.ownerId', 'u=' || json_extract(c."value", '$.ownerId'))))
    FROM json_each("Register"."value", '$.creations') c))
  WHERE "kind" = 'group' AND json_type("value", '$.creations') = 'array';
UPDATE "Register" SET "value" = json_set("value", '$.userId', 'u=' || json_extract("value", '$.userId'))
  WHERE "kind" = 'session' AND json_extract("value", '$.userId') IS NOT NULL;

-- The name registers: each existing user id and group id is claimed by its one account or group.
INSERT INTO "Register" ("kind", "groupId", "incarnation", "fileName", "userId", "hlc", "live", "value")
  SELECT 'userName', '', '', substr("userId", 3), '', "hlc", 1,
    json_object('claims', json_array(json_object('id', "userId", 'hlc', "hlc")), 'released', json_array())
  FROM "Register" WHERE "kind" = 'user';
INSERT INTO "Register" ("kind", "groupId", "incarnation", "fileName", "userId", "hlc", "live", "value")
  SELECT 'groupName', '', '', substr("groupId", 3), '', "hlc", 1,
    json_object('claims', json_array(json_object('id', "groupId", 'hlc', "hlc")),
      'released', CASE WHEN "live" THEN json_array() ELSE json_array("groupId") END)
  FROM "Register" WHERE "kind" = 'group';
