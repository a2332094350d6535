-- Run as a role with CREATEROLE. Then set each password: alter role ... password '...';
do $$ begin if not exists (select from pg_roles where rolname = 'grafana_acme') then create role "grafana_acme" login; end if; end $$;
alter role "grafana_acme" set default_transaction_read_only = on;
do $$ begin if not exists (select from pg_roles where rolname = 'grafana_globex') then create role "grafana_globex" login; end if; end $$;
alter role "grafana_globex" set default_transaction_read_only = on;
