from pcso_tui.cli import main

main()
