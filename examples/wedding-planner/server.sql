-- The wedding planner's tables on the server (PostgreSQL): the devices'
-- tables plus the column naming the owning user, typed as a server app
-- types them. syncstack keeps the planner's records in these rows
-- (schema.json: "account": "owner"); the server's other code and reports
-- query and write them with plain SQL.
CREATE TABLE couples(
  id uuid PRIMARY KEY,
  owner text NOT NULL,
  names text NOT NULL,
  wedding_day text);
CREATE TABLE budget(
  bid uuid PRIMARY KEY,
  owner text NOT NULL,
  couple_id uuid NOT NULL REFERENCES couples(id),
  title text NOT NULL,
  amount double precision,
  paid boolean NOT NULL DEFAULT false);
CREATE TABLE invitation_categories(
  icid uuid PRIMARY KEY,
  owner text NOT NULL,
  name text NOT NULL);
CREATE TABLE invitations(
  iid uuid PRIMARY KEY,
  owner text NOT NULL,
  icid uuid NOT NULL REFERENCES invitation_categories(icid),
  guest text NOT NULL,
  seats integer NOT NULL DEFAULT 1);
CREATE TABLE wishlist(
  gid uuid PRIMARY KEY,
  owner text NOT NULL,
  what text NOT NULL,
  price double precision);
CREATE TABLE gift_list(
  id uuid PRIMARY KEY,
  owner text NOT NULL,
  what text NOT NULL,
  giver text);
CREATE TABLE todo(
  id uuid PRIMARY KEY,
  owner text NOT NULL,
  title text NOT NULL,
  done boolean NOT NULL DEFAULT false);
CREATE INDEX budget_by_owner ON budget(owner);
