"""`python -m course`: the content commands (check, list, show, grade); the installed `course` adds the site's."""

from course.cli import cli

cli(prog_name="course")
