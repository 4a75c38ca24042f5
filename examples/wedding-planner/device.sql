-- The wedding planner's own tables on a phone or a laptop: the seed app's
-- six collections with its id keys, plus couples. Ids are UUID text.
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
CREATE TABLE couples(
  id TEXT PRIMARY KEY,
  names TEXT NOT NULL,
  wedding_day TEXT);
CREATE TABLE budget(
  bid TEXT PRIMARY KEY,
  couple_id TEXT NOT NULL REFERENCES couples(id),
  title TEXT NOT NULL,
  amount REAL,
  paid BOOLEAN NOT NULL DEFAULT 0);
CREATE TABLE invitation_categories(
  icid TEXT PRIMARY KEY,
  name TEXT NOT NULL);
CREATE TABLE invitations(
  iid TEXT PRIMARY KEY,
  icid TEXT NOT NULL REFERENCES invitation_categories(icid),
  guest TEXT NOT NULL,
  seats INTEGER NOT NULL DEFAULT 1);
CREATE TABLE wishlist(
  gid TEXT PRIMARY KEY,
  what TEXT NOT NULL,
  price REAL);
CREATE TABLE gift_list(
  id TEXT PRIMARY KEY,
  what TEXT NOT NULL,
  giver TEXT);
CREATE TABLE todo(
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  done BOOLEAN NOT NULL DEFAULT 0);
