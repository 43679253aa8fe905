-- Example table for the cdc compose profile (mounted into postgres' docker-entrypoint-initdb.d).
CREATE TABLE IF NOT EXISTS public.articles (
  id serial PRIMARY KEY,
  title text NOT NULL,
  body text NOT NULL,
  author text,
  published_at timestamptz DEFAULT now()
);
INSERT INTO public.articles (title, body, author) VALUES
  ('Hello CDC', 'Rows of this table become Spanda documents through Debezium Server and NATS JetStream.', 'spanda');
