import sys

from gql_server.cli import main

sys.exit(main())
