import sys

from attention_atlas.cli import main

sys.exit(main())
