from mpos_cli.cli import main

main()
