from daekit.cli import main

main()
