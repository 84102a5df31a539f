-- The database's incarnation (see prisma/schema.prisma, model Replica).
-- Generated with `prisma migrate diff --from-schema-datamodel <previous schema> --to-schema-datamodel prisma/schema.prisma --script`.
-- CreateTable
CREATE TABLE "Replica" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT DEFAULT 1,
    "incarnation" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL
);

